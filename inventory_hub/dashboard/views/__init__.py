"""The dashboard's pages, one module per page. Thin: parse input, check permission, call a selector
or service, render.

Every page answers a full request and, when HTMX asks for one of its named partials (HX-Target),
just that partial; the permission is checked before either. Each module owns its `urlpatterns`.
"""
