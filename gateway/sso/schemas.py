"""python3-saml's XML schema check, with each compiled schema kept per thread.

`OneLogin_Saml2_XML.validate_xml` reads and compiles saml-schema-protocol-2.0.xsd, and
the schemas it imports, on every message it checks: about 2 ms of the 2.9 ms
python3-saml spends validating one sign-in response (one core, in a loop). The
schema files never change while we run, so each thread compiles a schema once and
reuses it. Per thread, because an lxml XMLSchema keeps its error log on the object
and is not safe to share between threads validating at once.

The check itself is python3-saml's, unchanged: same files, same answers
('unloaded_xml', 'invalid_xml', or the parsed element).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from lxml import etree
from onelogin.saml2 import xml_utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

SCHEMA_DIR = Path(xml_utils.__file__).parent / "schemas"

_compiled = threading.local()


def compiled_schema(name: str) -> etree.XMLSchema:
    """This thread's compiled copy of python3-saml's schema file `name`."""
    schemas: dict[str, etree.XMLSchema] = _compiled.__dict__.setdefault("schemas", {})
    schema = schemas.get(name)
    if schema is None:
        schema = etree.XMLSchema(etree.parse(str(SCHEMA_DIR / name)))
        schemas[name] = schema
    return schema


def validate_xml(xml: Any, schema: str, debug: bool = False) -> Any:
    """OneLogin_Saml2_XML.validate_xml, with the compiled schema reused."""
    assert isinstance(schema, str)
    try:
        document = OneLogin_Saml2_XML.to_etree(xml)
    except Exception:  # python3-saml's own contract: any parse failure is 'unloaded_xml'
        return "unloaded_xml"
    if not compiled_schema(schema).validate(document):
        return "invalid_xml"
    return document


def install() -> None:
    """Make python3-saml use the per-thread schemas (once per process; idempotent)."""
    OneLogin_Saml2_XML.validate_xml = staticmethod(validate_xml)
