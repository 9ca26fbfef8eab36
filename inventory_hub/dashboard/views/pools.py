"""Pools and boundaries: the canonical pool beside each system's boundary; the ops lead edits them."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import path
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from inventory_hub.connectors.models import Connector
from inventory_hub.core import roles
from inventory_hub.dashboard.forms import BoundaryForm, PoolDefinitionForm
from inventory_hub.dashboard.selectors import pools as selectors
from inventory_hub.dashboard.views.common import HtmxHttpRequest, template_for
from inventory_hub.inventory import services as inventory_services
from inventory_hub.inventory.models import Pool

# The pool model permissions an ops lead holds (roles.OPS_LEAD_MODELS).
PERM_EDIT_POOL = "inventory.change_pool"
PERM_EDIT_BOUNDARY = "inventory.change_poolboundary"

POOL_LIST_PARTIALS = frozenset({"pool-cards"})
POOL_DETAIL_PARTIALS = frozenset({"pool-body"})


@require_GET
@permission_required(roles.PERM_VIEW, raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target")
def pool_list(request: HtmxHttpRequest) -> HttpResponse:
    try:
        page_number = int(request.GET.get("page", "1"))
    except ValueError:
        page_number = 1
    page, comparisons = selectors.pool_comparison_page(page=page_number)
    return render(
        request,
        template_for(request, "dashboard/pool_list.html", POOL_LIST_PARTIALS),
        {
            "page": page,
            "comparisons": comparisons,
            "mismatch_total": sum(len(c.mismatches) for c in comparisons),
            "can_edit": request.user.has_perm(PERM_EDIT_POOL) or request.user.has_perm(PERM_EDIT_BOUNDARY),
        },
    )


def _pool_or_404(pool_id: int) -> Pool:
    try:
        return selectors.pool_get(pool_id=pool_id)
    except Pool.DoesNotExist:
        raise Http404("No such pool.") from None


def _boundary_form(
    view: selectors.BoundaryView, choices: dict[int, list[tuple[str, str]]], data: Any = None
) -> BoundaryForm:
    entries = [(e.pk, e.external_location_id, e.bin, e.included) for e in view.entries]
    return BoundaryForm(
        data,
        entries=entries,
        external_choices=choices.get(view.connector.pk, []),
        initial={"notes": view.boundary.notes if view.boundary else ""},
        prefix=f"b{view.connector.pk}",
    )


def _card(
    view: selectors.BoundaryView, form: BoundaryForm | None
) -> tuple[selectors.BoundaryView, BoundaryForm | None, list[tuple[selectors.EntryView, Any]]]:
    """A boundary card: the view, its form (editors only) and each entry with its state field."""
    return view, form, [(entry, form.entry_field(entry.pk) if form else None) for entry in view.entries]


def _pool_body(
    request: HtmxHttpRequest,
    pool: Pool,
    *,
    definition_form: PoolDefinitionForm | None = None,
    bound_boundary: tuple[int, BoundaryForm] | None = None,
    saved: str = "",
) -> HttpResponse:
    """The pool page (or its body when HTMX asks), with any bound form kept so its errors show."""
    comparison = selectors.pool_comparison(pool=pool)
    can_edit_pool = request.user.has_perm(PERM_EDIT_POOL)
    can_edit_boundary = request.user.has_perm(PERM_EDIT_BOUNDARY)
    boundary_forms: dict[int, BoundaryForm] = {}
    if can_edit_boundary:
        choices = selectors.connector_external_choices(connector_ids=[v.connector.pk for v in comparison.boundaries])
        for view in comparison.boundaries:
            boundary_forms[view.connector.pk] = _boundary_form(view, choices)
        if bound_boundary is not None:
            boundary_forms[bound_boundary[0]] = bound_boundary[1]
    failed = (definition_form is not None and bool(definition_form.errors)) or (
        bound_boundary is not None and bool(bound_boundary[1].errors)
    )
    return render(
        request,
        template_for(request, "dashboard/pool_detail.html", POOL_DETAIL_PARTIALS),
        {
            "pool": pool,
            "comparison": comparison,
            "bin_units": selectors.excluded_bin_units(comparison=comparison),
            "boundary_cards": [_card(view, boundary_forms.get(view.connector.pk)) for view in comparison.boundaries],
            "definition_form": definition_form or (PoolDefinitionForm.for_pool(pool) if can_edit_pool else None),
            "open_form": "definition" if definition_form is not None and failed else "",
            "history": selectors.pool_history(pool=pool),
            "can_edit_pool": can_edit_pool,
            "can_edit_boundary": can_edit_boundary,
            "saved": saved,
        },
        status=422 if failed else 200,
    )


@require_GET
@permission_required(roles.PERM_VIEW, raise_exception=True)
@vary_on_headers("HX-Request", "HX-Target")
def pool_detail(request: HtmxHttpRequest, pool_id: int) -> HttpResponse:
    return _pool_body(request, _pool_or_404(pool_id))


@require_POST
@permission_required(PERM_EDIT_POOL, raise_exception=True)
def pool_edit(request: HtmxHttpRequest, pool_id: int) -> HttpResponse:
    pool = _pool_or_404(pool_id)
    form = PoolDefinitionForm(request.POST, prefix="pool")
    if form.is_valid():
        try:
            inventory_services.pool_update(
                pool=pool, definition=form.definition(), author=request.user, reason=form.cleaned_data["reason"]
            )
        except inventory_services.PoolValidationError as exc:
            for field, message in exc.errors.items():
                form.add_error(None if field == "__all__" else field, message)
        else:
            if not request.htmx:
                return redirect("dashboard:pool-detail", pool_id=pool.pk)
            return _pool_body(request, _pool_or_404(pool_id), saved="The pool definition was saved.")
    return _pool_body(request, pool, definition_form=form)


@require_POST
@permission_required(PERM_EDIT_BOUNDARY, raise_exception=True)
def pool_boundary_edit(request: HtmxHttpRequest, pool_id: int, connector_id: int) -> HttpResponse:
    pool = _pool_or_404(pool_id)
    connector = get_object_or_404(Connector.objects.only("pk", "name", "role"), pk=connector_id)
    view = next((v for v in selectors.pool_comparison(pool=pool).boundaries if v.connector.pk == connector.pk), None)
    if view is None:
        raise Http404("This system draws no boundary of the pool.")
    choices = selectors.connector_external_choices(connector_ids=[connector.pk])
    form = _boundary_form(view, choices, request.POST)
    if form.is_valid():
        try:
            inventory_services.pool_boundary_update(
                pool=pool,
                connector_id=connector.pk,
                connector_name=connector.name,
                entries=form.entry_specs(),
                notes=form.cleaned_data["notes"],
                known_external_ids=[external_id for external_id, _ in choices.get(connector.pk, [])],
                author=request.user,
                reason=form.cleaned_data["reason"],
            )
        except inventory_services.PoolValidationError as exc:
            for field, message in exc.errors.items():
                form.add_error(None if field == "__all__" else field, message)
        else:
            if not request.htmx:
                return redirect("dashboard:pool-detail", pool_id=pool.pk)
            return _pool_body(request, pool, saved=f"{connector.name}'s boundary was saved.")
    return _pool_body(request, pool, bound_boundary=(connector.pk, form))


urlpatterns = [
    path("pools/", pool_list, name="pool-list"),
    path("pools/<int:pool_id>/", pool_detail, name="pool-detail"),
    path("pools/<int:pool_id>/edit/", pool_edit, name="pool-edit"),
    path("pools/<int:pool_id>/boundaries/<int:connector_id>/", pool_boundary_edit, name="pool-boundary-edit"),
]
