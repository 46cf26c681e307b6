"""Pydantic v2 models: API request/response bodies (camelCase on the wire) and stored records."""

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """A body on the wire: camelCase names, python names in code, unknown fields ignored.

    ``defer_build``: a model's validator is built the first time it is used, so a function only pays for
    the models its requests touch (see docs/cold-start.md)."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True, defer_build=True)

    def to_wire(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)
