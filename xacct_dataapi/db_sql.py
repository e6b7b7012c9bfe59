"""The deployment's own database user as SQL (pure: no I/O): the grants it asks for, as data, and the statements
that create it, change its password, grant, revoke and drop it (PostgreSQL; the sandbox runs a real one).

The password never reaches the database as text: PostgreSQL accepts a SCRAM-SHA-256 verifier in place of the
password ("If the presented password string is already in MD5-encrypted or SCRAM-encrypted format, then it is
stored as-is", CREATE ROLE reference), computed here with scramp (pg8000's own SCRAM library). So the statement a
server log, an audit extension or the Data API's recording holds reveals nothing that logs in.

Every name here comes from validated input (DB_USER_RE, the grant grammar below) or from the database's own
catalogue, and is quoted as an identifier all the same: a state file is untrusted input.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# GetRandomPassword's ExcludeCharacters: whatever could end or escape a SQL string literal in either engine (' and \),
# quote an identifier (" and `), or start a dollar quote ($), plus the three RDS refuses in a master password (/ @ ").
PASSWORD_EXCLUDE = "'\"\\`$/@%"
PASSWORD_LENGTH = 32
COMMENT_PREFIX = "xacct:deployment="  # COMMENT ON ROLE: the database-side evidence that xacct created the user

IDENT = r"[A-Za-z_][A-Za-z0-9_]{0,62}"
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
SEQUENCE_PRIVILEGES = ("USAGE", "SELECT", "UPDATE")
SCHEMA_PRIVILEGES = ("USAGE", "CREATE")
_KINDS = {"table": TABLE_PRIVILEGES, "sequence": SEQUENCE_PRIVILEGES, "schema": SCHEMA_PRIVILEGES}
_TARGET = re.compile(
    rf"^(?:ALL\s+(?P<all>TABLES|SEQUENCES)\s+IN\s+SCHEMA\s+(?P<in_schema>{IDENT})"
    rf"|SCHEMA\s+(?P<schema>{IDENT})"
    rf"|(?:(?P<kind>TABLE|SEQUENCE)\s+)?(?P<object>{IDENT}(?:\.{IDENT})?))$", re.IGNORECASE)
GRANT_RE = re.compile(r"^\s*(?P<privileges>[A-Za-z, ]+?)\s+ON\s+(?P<target>.+?)\s*$", re.IGNORECASE)
PRESETS = {"read": (("SELECT",), ("USAGE", "SELECT")),
           "write": (("SELECT", "INSERT", "UPDATE", "DELETE"), ("USAGE", "SELECT", "UPDATE"))}


class GrantError(ValueError):
    """A --db-grant that is not one of the forms xacct understands (the message says which part)."""


@dataclass(frozen=True, order=True)
class Privilege:
    """One privilege on one object, as the database's catalogue lists it: ("table", "public.orders", "SELECT")."""

    kind: str  # table | sequence | schema
    object: str  # schema.name for tables and sequences, the name for a schema
    privilege: str

    def __str__(self) -> str:
        return f"{self.privilege} ON {self.kind.upper()} {self.object}"


@dataclass(frozen=True)
class GrantSpec:
    """One asked-for grant before expansion: `scope` "all" covers every table (or sequence) of `schema` there is."""

    kind: str
    privileges: tuple[str, ...]
    schema: str
    name: str | None = None  # a single table or sequence; None with scope "all" or for a schema grant

    def text(self) -> str:
        what = (f"ALL {self.kind.upper()}S IN SCHEMA {self.schema}" if self.name is None and self.kind != "schema"
                else f"{self.kind.upper()} {self.schema if self.kind == 'schema' else self.schema + '.' + self.name}")
        return f"{', '.join(self.privileges)} ON {what}"


def parse_grant(text: str) -> GrantSpec:
    """"SELECT, INSERT ON ALL TABLES IN SCHEMA sales" (or ON TABLE s.t, ON t, ON SEQUENCE s.q, ON SCHEMA s) as data."""
    m = GRANT_RE.match(text or "")
    target = _TARGET.match(m.group("target").strip()) if m else None
    if m is None or target is None:
        raise GrantError(f"--db-grant {text!r} is not PRIVILEGES ON OBJECTS",
                         "Use e.g. --db-grant 'SELECT ON ALL TABLES IN SCHEMA public', 'SELECT, INSERT ON TABLE "
                         "public.orders', 'USAGE ON SCHEMA public' (names: letters, digits, '_').")
    privileges = tuple(dict.fromkeys(p.strip().upper() for p in m.group("privileges").split(",") if p.strip()))
    if target.group("all"):
        kind, schema, name = target.group("all")[:-1].lower(), target.group("in_schema"), None
    elif target.group("schema"):
        kind, schema, name = "schema", target.group("schema"), None
    else:
        schema, _, name = target.group("object").rpartition(".")
        kind, schema = (target.group("kind") or "table").lower(), schema or "public"
    allowed = _KINDS[kind]
    if privileges == ("ALL",):
        privileges = allowed
    wrong = [p for p in privileges if p not in allowed]
    if wrong or not privileges:
        raise GrantError(f"--db-grant {text!r}: {', '.join(wrong) or 'no privilege'} cannot be granted on a {kind}",
                         f"A {kind} takes {', '.join(allowed)} (or ALL).")
    return GrantSpec(kind, privileges, schema.lower(), name.lower() if name else None)


def preset(access: str, schema: str) -> list[GrantSpec]:
    """--db-access read|write on --db-schema S: the schema, every table in it, and its sequences (write: nextval)."""
    tables, sequences = PRESETS[access]
    return [GrantSpec("schema", ("USAGE",), schema.lower()), GrantSpec("table", tables, schema.lower()),
            GrantSpec("sequence", sequences, schema.lower())]


def expand(specs: list[GrantSpec], objects: dict[str, list[str]]) -> set[Privilege]:
    """The asked-for grants as single privileges, `objects` being what exists: {"table": ["public.t", ...], ...}.
    A grant on ALL TABLES covers the tables there are now (as PostgreSQL's own GRANT ... ON ALL TABLES does)."""
    out: set[Privilege] = set()
    for spec in specs:
        if spec.kind == "schema":
            names = [spec.schema]
        elif spec.name is not None:
            names = [f"{spec.schema}.{spec.name}"]
        else:
            names = [o for o in objects.get(spec.kind, []) if o.split(".", 1)[0] == spec.schema]
        out |= {Privilege(spec.kind, n, p) for n in names for p in spec.privileges}
    return out


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _object(privilege: Privilege) -> str:
    return ".".join(quote_ident(part) for part in privilege.object.split(".", 1))


def grant_sql(p: Privilege, user: str) -> str:
    return f"GRANT {p.privilege} ON {p.kind.upper()} {_object(p)} TO {quote_ident(user)}"


def revoke_sql(p: Privilege, user: str) -> str:
    return f"REVOKE {p.privilege} ON {p.kind.upper()} {_object(p)} FROM {quote_ident(user)}"


def scram_verifier(password: str) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores for this password (its own format, 4096 iterations)."""
    from base64 import b64encode

    from scramp import ScramMechanism

    salt, stored_key, server_key, iterations = ScramMechanism("SCRAM-SHA-256").make_auth_info(password, 4096)
    b64 = lambda raw: b64encode(raw).decode()  # noqa: E731
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${b64(stored_key)}:{b64(server_key)}"


def create_user_sql(user: str, verifier: str, deployment: str) -> str:
    """CREATE ROLE and its comment in one statement (a DO block: one transaction), so a run killed after it left a user
    that carries the evidence, or none."""
    body = (f"CREATE ROLE {quote_ident(user)} LOGIN PASSWORD {quote_literal(verifier)}; "
            f"COMMENT ON ROLE {quote_ident(user)} IS {quote_literal(COMMENT_PREFIX + deployment)};")
    return f"DO $$ BEGIN {body} END $$"  # plain $$: the Data API's parameter parser knows no tagged dollar quotes


def set_password_sql(user: str, verifier: str) -> str:
    return f"ALTER ROLE {quote_ident(user)} WITH LOGIN PASSWORD {quote_literal(verifier)}"


def drop_user_sql(user: str) -> str:
    return f"DROP ROLE {quote_ident(user)}"


def reassign_hint(user: str, databases: list[str]) -> str:
    """What the operator runs (as the admin, in each database) to give the user's objects to another role."""
    where = ", ".join(sorted(set(databases))) or "its database"
    return (f"As the cluster's admin, in each of {where}: REASSIGN OWNED BY {quote_ident(user)} TO <new_owner>; "
            f"then re-run the teardown.")


# The catalogue reads (named parameters, as the Data API sends them).
ROLE_SQL = ("SELECT r.rolname, r.rolcanlogin, shobj_description(r.oid, 'pg_authid') FROM pg_roles r "
            "WHERE r.rolname = :user")
OBJECTS_SQL = ("SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END, n.nspname || '.' || c.relname "
               "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
               "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND n.nspname = ANY(string_to_array(:schemas, ','))")
GRANTS_SQL = (
    "WITH me AS (SELECT oid FROM pg_roles WHERE rolname = :user) "
    "SELECT CASE c.relkind WHEN 'S' THEN 'sequence' ELSE 'table' END, n.nspname || '.' || c.relname, a.privilege_type "
    "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a, me "
    "WHERE a.grantee = me.oid AND c.relowner <> me.oid "
    "UNION ALL SELECT 'schema', n.nspname, a.privilege_type FROM pg_namespace n, aclexplode(n.nspacl) a, me "
    "WHERE a.grantee = me.oid AND n.nspowner <> me.oid")
OWNED_SQL = (
    "SELECT coalesce(d.datname, '(the whole cluster)'), CASE WHEN s.dbid IN (0, (SELECT oid FROM pg_database "
    "WHERE datname = current_database())) THEN pg_describe_object(s.classid, s.objid, s.objsubid) "
    "ELSE s.classid::regclass::text || ' ' || s.objid END "
    "FROM pg_shdepend s LEFT JOIN pg_database d ON d.oid = s.dbid "
    "WHERE s.deptype = 'o' AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = :user)")
