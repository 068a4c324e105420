"""PreTraffic hook: invokes the new Greeter version once, then reports to CodeDeploy.

Written as for AWS, with the standard library only: the endpoints come from
AWS_ENDPOINT_URL_LAMBDA / AWS_ENDPOINT_URL_CODEDEPLOY, which shift sets locally.
"""
import json
import os
import urllib.request


def _post(url, body, headers):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers, response.read()


def handler(event, context):
    target = os.environ["TARGET"]  # the ARN of the version being deployed
    lambda_url = os.environ["AWS_ENDPOINT_URL_LAMBDA"].rstrip("/")
    status, headers, body = _post(f"{lambda_url}/2015-03-31/functions/{target}/invocations", {"name": "pre-traffic"}, {})
    healthy = status == 200 and headers.get("X-Amz-Function-Error") is None and b"Hello" in body
    codedeploy_url = os.environ["AWS_ENDPOINT_URL_CODEDEPLOY"].rstrip("/")
    _post(codedeploy_url + "/", {
        "deploymentId": event["DeploymentId"],
        "lifecycleEventHookExecutionId": event["LifecycleEventHookExecutionId"],
        "status": "Succeeded" if healthy else "Failed",
    }, {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": "CodeDeploy_20141006.PutLifecycleEventHookExecutionStatus"})
    return {"healthy": healthy}
