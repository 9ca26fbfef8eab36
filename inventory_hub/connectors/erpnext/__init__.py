"""ERPNext (Frappe REST) adapter: client (HTTP), parsing (payload → records), adapter."""
