import os

GREETING = os.environ.get("GREETING", "Hello")
calls = 0


def handler(event, context):
    global calls
    calls += 1
    name = (event or {}).get("name", "world")
    return {"message": f"{GREETING}, {name}!", "version": context.function_version, "calls": calls}
