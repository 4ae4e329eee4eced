"""A portal form made from an action's input schema (the ninja/pydantic `Schema` the API takes),
so a form asks for exactly what the service needs and is checked by the same schema.

`SchemaForm(RenewIn, data=request.POST, labels=…, choices=…)` lists the schema's fields as
`FormField`s (the template `portal/includes/schema_form_fields.html` renders them, each with its
label, hint and error), reads a submitted form into the schema (`is_valid()`, then `validated`),
and places a service's refusal at the field it names (`add_domain_error`). The widget follows
the field's type: an enumeration → radio buttons, a list → checkboxes, a bool → a checkbox, a
datetime → a local date-time input, a long text → a text area; a string given `choices` → a
select. Inputs are named as the API's fields (a field's alias, e.g. `packages`).
"""

from __future__ import annotations

import datetime as dt
import enum
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from annotated_types import MaxLen
from django.http import QueryDict
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from ninja import Schema
from pydantic import ValidationError
from pydantic.fields import FieldInfo

from healthnet.errors import DomainError
from healthnet.workflow import ActionSpec

TEXTAREA_FROM_LENGTH = 500
Choices = Sequence[tuple[str, Any]]


@dataclass
class FormField:
    name: str  # the input's name: the API's field name
    label: Any
    widget: str  # text | textarea | radio | select | checkbox | checkboxes | datetime
    required: bool = False
    max_length: int | None = None
    choices: Choices = ()
    value: Any = ""
    hint: Any = ""
    error: str = ""
    id: str = ""
    autocomplete: str = ""

    @property
    def values(self) -> list[str]:
        """The chosen values of a multiple choice, as text (for `checked`)."""
        return [str(v) for v in (self.value or [])]


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """(the type inside `X | None`, whether None is allowed)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return annotation, False


def _widget(annotation: Any, info: FieldInfo, has_choices: bool) -> str:
    kind, _optional = _unwrap(annotation)
    if kind is bool:
        return "checkbox"
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return "radio"
    if typing.get_origin(kind) is list:
        return "checkboxes"
    if kind is dt.datetime:
        return "datetime"
    if has_choices:
        return "select"
    if (_max_length(info) or 0) >= TEXTAREA_FROM_LENGTH:
        return "textarea"
    return "text"


def _max_length(info: FieldInfo) -> int | None:
    return next((m.max_length for m in info.metadata if isinstance(m, MaxLen)), None)


def _enum_choices(annotation: Any) -> Choices:
    kind, _optional = _unwrap(annotation)
    return [(member.value, getattr(member, "label", member.value)) for member in kind]


def _local_input(value: Any) -> str:
    if isinstance(value, dt.datetime):
        return timezone.localtime(value).strftime("%Y-%m-%dT%H:%M")
    return value or ""


REQUIRED = _("此项必填。")
INVALID = _("格式不正确。")


S = TypeVar("S", bound=Schema)


def input_schema(spec: ActionSpec) -> type[Schema]:
    """The input schema of an action shown as a form (an action that takes none has no form)."""
    if spec.input is None or not issubclass(spec.input, Schema):
        raise TypeError(f"{spec.name} takes no input schema: it has no form")
    return spec.input


class SchemaForm(Generic[S]):
    def __init__(
        self,
        schema: type[S],
        *,
        data: QueryDict | None = None,
        initial: Mapping[str, Any] | None = None,
        labels: Mapping[str, Any],
        choices: Mapping[str, Choices] | None = None,
        hints: Mapping[str, Any] | None = None,
        exclude: Sequence[str] = (),
        prefix: str = "",
        autocomplete: Mapping[str, str] | None = None,
    ) -> None:
        self.schema = schema
        self.data = data
        self.non_field_errors: list[str] = []
        self.payload: S | None = None
        choices = choices or {}
        initial = initial or {}
        self.fields: list[FormField] = []
        for attribute, info in schema.model_fields.items():
            name = info.alias or attribute
            if name in exclude or attribute in exclude:
                continue
            given = choices.get(name)
            widget = _widget(info.annotation, info, given is not None)
            self.fields.append(
                FormField(
                    name=name,
                    label=labels.get(name, name),
                    widget=widget,
                    required=info.is_required(),
                    max_length=_max_length(info),
                    choices=given
                    if given is not None
                    else (_enum_choices(info.annotation) if widget == "radio" else ()),
                    value=self._value(name, widget, initial),
                    hint=(hints or {}).get(name, ""),
                    id=f"{prefix}{name}" if prefix else f"field-{name}",
                    autocomplete=(autocomplete or {}).get(name, ""),
                )
            )
        self.by_name = {f.name: f for f in self.fields}

    def _value(self, name: str, widget: str, initial: Mapping[str, Any]) -> Any:
        if self.data is None:
            value = initial.get(name, [] if widget == "checkboxes" else "")
            return _local_input(value) if widget == "datetime" else value
        if widget == "checkboxes":
            return self.data.getlist(name)
        if widget == "checkbox":
            return name in self.data
        return self.data.get(name, "")

    def _submitted(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for form_field in self.fields:
            value = form_field.value
            if form_field.widget == "datetime":
                if not value:
                    continue
                try:
                    parsed = dt.datetime.fromisoformat(value)
                except ValueError:
                    form_field.error = str(INVALID)
                    continue
                value = timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed
            elif form_field.widget in ("text", "textarea", "select", "radio") and value == "":
                if form_field.required:
                    form_field.error = str(REQUIRED)
                    continue
                if form_field.widget == "radio":
                    continue  # an enumeration left unchosen: the schema's default
            values[form_field.name] = value
        return values

    def is_valid(self) -> bool:
        """Read the submitted form into the schema; False with each problem at its field."""
        if self.data is None:
            return False
        values = self._submitted()
        if any(f.error for f in self.fields):
            return False
        try:
            self.payload = self.schema.model_validate(values)
        except ValidationError as exc:
            for problem in exc.errors():
                name = str(problem["loc"][0]) if problem["loc"] else ""
                message = REQUIRED if problem["type"] == "missing" else INVALID
                self.add_error(name, str(message))
            return False
        return True

    @property
    def validated(self) -> S:
        """The payload that `is_valid()` read (asking before it held is a bug)."""
        if self.payload is None:
            raise RuntimeError("SchemaForm.validated read before is_valid() held")
        return self.payload

    def add_error(self, name: str, message: str) -> None:
        target = self.by_name.get(name)
        if target is None:
            self.non_field_errors.append(message)
        elif not target.error:
            target.error = message

    def add_domain_error(
        self, error: DomainError, *, field_of: Mapping[str, str] | None = None
    ) -> None:
        """A service's refusal, at the input it names (`field` of its details; `field_of` maps a
        service's field name to another input's name where the two differ)."""
        name = str(error.details.get("field") or "")
        name = (field_of or {}).get(name, name)
        self.add_error(name, error.message)

    @property
    def errors(self) -> list[str]:
        return self.non_field_errors + [f.error for f in self.fields if f.error]


__all__ = ["FormField", "SchemaForm"]
