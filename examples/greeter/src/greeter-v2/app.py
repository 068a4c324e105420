import os

GREETING = os.environ.get("GREETING", "Hello")
calls = 0


def handler(event, context):
    """Release 2 adds a title, and a bug: every fourth call of an environment fails."""
    global calls
    calls += 1
    if calls % 4 == 0:
        raise ValueError("title lookup failed")
    name = (event or {}).get("name", "world")
    title = (event or {}).get("title", "")
    return {"message": f"{GREETING}, {title + ' ' if title else ''}{name}!", "version": context.function_version, "calls": calls}
