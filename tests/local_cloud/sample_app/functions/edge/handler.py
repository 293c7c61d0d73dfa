"""Lambda@Edge viewer request: refuses /svc/api/blocked with a generated JSON 403, stamps
x-edge-seen (and the body length it was shown) on everything else."""

import base64
import json


def main(event, context):
    request = event["Records"][0]["cf"]["request"]
    if request["uri"].startswith("/svc/api/blocked"):
        return {
            "status": "403",
            "statusDescription": "Forbidden",
            "headers": {"content-type": [{"key": "Content-Type", "value": "application/json"}]},
            "body": json.dumps({"error": "blocked at the edge", "method": request["method"]}),
        }
    request["headers"]["x-edge-seen"] = [{"key": "X-Edge-Seen", "value": "yes"}]
    body = request.get("body", {})
    if body.get("data") is not None:
        length = len(base64.b64decode(body["data"]))
        request["headers"]["x-edge-body-length"] = [
            {"key": "X-Edge-Body-Length", "value": str(length)}
        ]
    request["headers"]["x-edge-client-ip"] = [
        {"key": "X-Edge-Client-Ip", "value": request["clientIp"]}
    ]
    return request
