"""Read models of the dashboard's pages, one module per page: plain functions returning what a
template shows, in a bounded number of queries (no N+1)."""
