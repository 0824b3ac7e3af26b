"""The JQL subset the Jira mock's /search/jql understands.

    clause [AND clause ...] [ORDER BY field [ASC|DESC], ...]
    clause:  field = value | field != value | field ~ value | field !~ value
             | field IN (v, ...) | field NOT IN (v, ...) | field IS [NOT] EMPTY
    fields:  project, labels, status, key (issuekey), id, issuetype (type), priority,
             summary, description, text, customfield_N (cf[N]),
             issue.property[KEY].path.in.value
    values:  "double" or 'single' quoted strings, or bare words (OPS, OPS-12, 10000)

OR, NOT, parentheses and functions are not supported (a 400 says so). Error texts follow
Jira's; see the vendor notes.
"""

import re

UNBOUNDED = ("Unbounded JQL queries are not allowed here. Please add a search restriction "
             "to your query.")
TOKEN = re.compile(r"""\s*(?:
    (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>!=|!~|<=|>=|=|~|<|>|\(|\)|,)
  | (?P<word>issue\.property\[[^\]]*\](?:\.[\w-]+)*|cf\[\d+\]|[\w.\-]+)
)""", re.X)
EQUALITY = {"=", "!=", "in", "not in"}
FIELD_OPS = {
    "project": EQUALITY, "status": EQUALITY, "key": EQUALITY, "id": EQUALITY,
    "issuetype": EQUALITY, "priority": EQUALITY,
    "labels": EQUALITY | {"is", "is not"},
    "summary": {"~", "!~", "is", "is not"}, "description": {"~", "!~", "is", "is not"},
    "text": {"~"},
    "property": EQUALITY | {"is", "is not"},
    "customfield": EQUALITY | {"~", "!~", "is", "is not"},
}
ALIASES = {"issuekey": "key", "type": "issuetype"}
SORTABLE = {"created", "updated", "key", "issuekey", "id", "priority", "summary", "status"}
KEYWORDS = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"}


class JQLError(ValueError):
    pass


def _syntax(why):
    return JQLError(f"Error in the JQL Query: {why}")


def tokenize(jql):
    tokens, pos = [], 0
    while pos < len(jql):
        m = TOKEN.match(jql, pos)
        if not m or m.end() == pos:
            if not jql[pos:].strip():
                break
            raise _syntax(f"The character '{jql[pos:].strip()[0]}' is a reserved JQL "
                          f"character (at position {pos}).")
        kind = m.lastgroup
        text = m.group(kind)
        if kind == "str":
            text = re.sub(r"\\(.)", r"\1", text[1:-1])
        tokens.append((kind, text))
        pos = m.end()
    return tokens


class Query:
    def __init__(self, clauses, order):
        self.clauses = clauses          # [(field spelling, kind, path, op, [values])]
        self.order = order              # [(field, desc)]

    def check(self, state, config):
        """Values Jira would reject: unknown project, status, issue type or priority."""
        projects = set(state.projects) | set(state.projects.values()) | set(
            config["jira_projects"] or [])
        known = {
            "project": {p.upper() for p in projects},
            "status": {"to do", "in progress", "done", "10000", "3", "10001"},
            "issuetype": {t.lower() for t in config["jira_issue_types"]}
            | {str(10001 + i) for i in range(len(config["jira_issue_types"]))},
            "priority": {"highest", "high", "medium", "low", "lowest", "1", "2", "3", "4", "5"},
        }
        for spelling, kind, _path, _op, values in self.clauses:
            if kind in known:
                for v in values:
                    if (v.upper() if kind == "project" else v.lower()) not in known[kind]:
                        raise JQLError(f"The value '{v}' does not exist for the field "
                                       f"'{spelling}'.")

    def run(self, issues):
        found = [i for i in issues if all(_match(i, c) for c in self.clauses)]
        found.sort(key=lambda i: int(i["id"]), reverse=True)      # default: newest first
        for field, desc in reversed(self.order):
            found.sort(key=lambda i, f=field: _sort_key(i, f), reverse=desc)
        return found


def parse(jql):
    tokens = tokenize(jql)
    pos = 0

    def peek(word=None):
        if pos >= len(tokens):
            return None
        kind, text = tokens[pos]
        if word is None:
            return tokens[pos]
        return kind == "word" and text.lower() == word

    def take():
        nonlocal pos
        if pos >= len(tokens):
            raise _syntax("Expecting more input at the end of the query.")
        pos += 1
        return tokens[pos - 1]

    def value():
        kind, text = take()
        if kind == "op" or (kind == "word" and text.lower() in KEYWORDS):
            raise _syntax(f"Expecting a value but got '{text}'.")
        if peek() == ("op", "("):
            raise _syntax(f"Function '{text}' is not supported by the mock.")
        return text

    clauses, order = [], []
    while pos < len(tokens) and not peek("order"):
        kind, spelling = take()
        if kind != "word" or spelling.lower() in KEYWORDS:
            raise _syntax(f"Expecting a field name but got '{spelling}' (the mock supports "
                          "AND of simple clauses only).")
        field, path = _field(spelling)
        kind, text = take()
        op = text.lower()
        if kind == "word" and op == "not":
            if not peek("in"):
                raise _syntax("Expecting 'IN' after 'NOT'.")
            take()
            op = "not in"
        elif kind == "word" and op == "is":
            if peek("not"):
                take()
                op = "is not"
        elif kind != "op" and op != "in":
            raise _syntax(f"Expecting operator but got '{text}'.")
        if op not in FIELD_OPS[field]:
            raise JQLError(f"The operator '{text.upper() if kind == 'word' else text}' is not "
                           f"supported by the '{spelling}' field.")
        if op in ("in", "not in"):
            if take() != ("op", "("):
                raise _syntax(f"Expecting '(' after '{op.upper()}'.")
            values = [value()]
            while peek() == ("op", ","):
                take()
                values.append(value())
            if take() != ("op", ")"):
                raise _syntax("Expecting ')' to close the list.")
        elif op in ("is", "is not"):
            if not (peek("empty") or peek("null")):
                raise _syntax("Expecting EMPTY or NULL after IS.")
            take()
            values = []
        else:
            values = [value()]
        clauses.append((spelling, field, path, op, values))
        if pos >= len(tokens) or peek("order"):
            break
        if peek("or"):
            raise _syntax("OR is not supported by the mock; combine clauses with AND.")
        if not peek("and"):
            raise _syntax(f"Expecting 'AND' but got '{peek()[1]}'.")
        take()
    if peek("order"):
        take()
        if not peek("by"):
            raise _syntax("Expecting 'BY' after 'ORDER'.")
        take()
        while True:
            kind, name = take()
            if kind != "word" or name.lower() not in SORTABLE:
                raise JQLError(f"Field '{name}' does not exist or you do not have permission "
                               f"to view it.")
            desc = False
            if peek("asc") or peek("desc"):
                desc = take()[1].lower() == "desc"
            order.append((ALIASES.get(name.lower(), name.lower()), desc))
            if peek() != ("op", ","):
                break
            take()
    if pos < len(tokens):
        raise _syntax(f"Unexpected '{tokens[pos][1]}'.")
    if not clauses:
        raise JQLError(UNBOUNDED)
    return Query(clauses, order)


def _field(spelling):
    low = spelling.lower()
    m = re.fullmatch(r"issue\.property\[([^\]]*)\]((?:\.[\w-]+)*)", spelling)
    if m:
        key = m.group(1).strip().strip("'\"")
        return "property", (key, [p for p in m.group(2).split(".") if p])
    m = re.fullmatch(r"cf\[(\d+)\]|customfield_(\d+)", low)
    if m:
        return "customfield", f"customfield_{m.group(1) or m.group(2)}"
    low = ALIASES.get(low, low)
    if low in FIELD_OPS and low not in ("property", "customfield"):
        return low, None
    raise JQLError(f"Field '{spelling}' does not exist or you do not have permission to "
                   f"view it.")


# --------------------------------------------------------------------------- evaluation

def adf_text(node):
    """The plain text of an ADF document (or of any JSON value)."""
    if isinstance(node, dict):
        return (node.get("text") or "") + " ".join(adf_text(c) for c in node.get("content", [])
                                                   if isinstance(c, (dict, list)))
    if isinstance(node, list):
        return " ".join(adf_text(c) for c in node)
    return "" if node is None else str(node)


def _scalar(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, dict):
        if "value" in v:
            return _scalar(v["value"])
        return adf_text(v) if v.get("type") == "doc" else None
    return None if v is None else str(v)


def _values(issue, field, path):
    """The issue's values for a field, as lower-case strings."""
    f = issue["fields"]
    if field == "project":
        out = [issue["project"]]
    elif field == "labels":
        out = list(f.get("labels", []))
    elif field == "status":
        out = [issue["status"]]
    elif field == "key":
        out = [issue["key"]]
    elif field == "id":
        out = [issue["id"]]
    elif field == "issuetype":
        out = [f["issuetype"]["name"], f["issuetype"]["id"]]
    elif field == "priority":
        pid = f.get("priority") or "3"
        out = [pid, {"1": "Highest", "2": "High", "3": "Medium", "4": "Low",
                     "5": "Lowest"}[pid]]
    elif field in ("summary", "description"):
        text = adf_text(f.get(field))
        out = [text] if text else []
    elif field == "text":
        out = [adf_text(f.get("summary")), adf_text(f.get("description"))] + [
            adf_text(c["body"]) for c in issue["comments"]]
    elif field == "customfield":
        v = f.get(path)
        out = [_scalar(x) for x in v] if isinstance(v, list) else [_scalar(v)]
    else:                                            # issue.property[key].path
        key, steps = path
        if key not in issue["properties"]:
            return []
        v = issue["properties"][key]
        for step in steps:
            if not isinstance(v, dict) or step not in v:
                return []
            v = v[step]
        out = [_scalar(x) for x in v] if isinstance(v, list) else [_scalar(v)]
    if field == "project":
        out.append(issue.get("project_id", ""))
    return [str(x).lower() for x in out if x not in (None, "")]


def _match(issue, clause):
    _spelling, field, path, op, values = clause
    have = _values(issue, field, path)
    want = [v.lower() for v in values]
    if op in ("=", "in"):
        return any(v in have for v in want)
    if op in ("!=", "not in"):
        return bool(have) and not any(v in have for v in want)
    if op == "~":
        return any(w.strip("*") in h for w in want for h in have)
    if op == "!~":
        return not any(w.strip("*") in h for w in want for h in have)
    if op == "is":
        return not have
    return bool(have)                                # is not


def _sort_key(issue, field):
    if field in ("created", "id", "key"):
        return int(issue["id"])
    if field == "updated":
        return issue["updated"]
    if field == "priority":
        return int(issue["fields"].get("priority") or 3)
    if field == "status":
        return issue["status"]
    return str(issue["fields"].get("summary", ""))
