def handler(event, context):
    return {"task": "done"}
