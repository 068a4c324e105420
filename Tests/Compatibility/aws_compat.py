"""AWS compatibility checks: boto3, unmodified, against an endpoint that claims to be Lambda and CodeDeploy.

Run by Tests/ShiftCLITests/AWSCompatibilityTests.swift against `shift serve` (TARGET=shift) and a moto server
(TARGET=moto). Every check states what AWS documents (API reference / botocore's models); a check a target does
not implement prints `skip NAME: why`, one that differs from AWS prints `FAIL NAME: what`. Prints `ok NAME` else.

Environment: ENDPOINT, TARGET, FUNCTION (a python function that echoes its event), BOOM (one that raises),
DEPLOYMENT (a Succeeded deployment id, shift only).
"""
import base64, hashlib, io, json, os, sys, time, traceback, uuid, zipfile

import boto3, botocore
from botocore.exceptions import ClientError, WaiterError

ENDPOINT = os.environ["ENDPOINT"]
TARGET = os.environ["TARGET"]
REGION = "us-east-1"
ACCOUNT = "123456789012"
lam = boto3.client("lambda", endpoint_url=ENDPOINT, region_name=REGION)
cd = boto3.client("codedeploy", endpoint_url=ENDPOINT, region_name=REGION)

# Where moto answers differently from AWS, and the check therefore skips on moto (AWS's behaviour is what shift follows).
MOTO_DIFFERS = {
    "request_id_on_every_answer": "moto's RequestId is a 52-character token, not AWS's UUID",
    "revision_id_precondition": "moto's get_function_configuration has no RevisionId",
    "last_modified_stable": "moto renders LastModified as ...Z with nanoseconds, AWS as ...+0000 with milliseconds",
    "pagination": "moto ignores MaxItems on list_versions_by_function (no NextMarker)",
    "payload_limits": "moto invokes through Docker only (500 without it) and enforces no payload limit",
    "stack_trace_user_frames": "moto without Docker answers a simulated Handled error",
    "invoke_foreign_arn": "moto accepts an ARN of another account (AWS: ResourceNotFoundException)",
    "delete_missing_function": None,
    "update_code_zip": "moto invokes the updated code through Docker only",
    "update_configuration": "moto's answers have no RevisionId",
    "tags": None,
    "reserved_concurrency": None,
    "account_settings": "moto does not implement GetAccountSettings (404 with an HTML page)",
    "delete_alias_and_version": "moto deletes a version an alias routes to (AWS: 409 ResourceConflictException)",
    "codedeploy_get_deployment": "needs a deployment that shift deploy ran",
    "codedeploy_list_and_paginate": "needs a deployment that shift deploy ran",
    "codedeploy_waiter": "needs a deployment that shift deploy ran",
    "codedeploy_unknown_ids": "moto answers DeploymentDoesNotExistException for a malformed id (AWS: InvalidDeploymentIdException)",
}

results = []


def check(name):
    def register(body):
        results.append((name, body))
        return body
    return register


def error_code(call, *args, **kwargs):
    try:
        call(*args, **kwargs)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e
    raise AssertionError("%s succeeded; expected an error" % call.__name__)


def zip_of(files):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = 0o644 << 16
            archive.writestr(info, text)
    return buffer.getvalue()


ECHO_ZIP = zip_of({"app.py": "def handler(event, context):\n    return {'event': event}\n"})


def setup():
    """On moto the functions must be created first (shift serves the template's)."""
    if TARGET != "moto":
        return os.environ["FUNCTION"], os.environ["BOOM"]
    iam = boto3.client("iam", endpoint_url=ENDPOINT, region_name=REGION)
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    for name in ["PyEcho", "Boom"]:
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": ECHO_ZIP})
    return "PyEcho", "Boom"


FN, BOOM = setup()


@check("request_id_on_every_answer")
def _():
    # AWS: every answer carries x-amzn-RequestId (a UUID), successes and errors alike.
    answers = [lam.get_function(FunctionName=FN), lam.list_functions(), lam.get_function_configuration(FunctionName=FN),
               lam.list_versions_by_function(FunctionName=FN)]
    for answer in answers:
        uuid.UUID(answer["ResponseMetadata"]["RequestId"])
    _, _, e = error_code(lam.get_function, FunctionName="NoSuchFunction")
    uuid.UUID(e.response["ResponseMetadata"]["RequestId"])


@check("revision_id_precondition")
def _():
    # AWS: RevisionId on functions, versions, aliases; a wrong one → 412 PreconditionFailedException.
    config = lam.get_function_configuration(FunctionName=FN)
    assert config["RevisionId"], config
    assert lam.get_function(FunctionName=FN)["Configuration"]["RevisionId"] == config["RevisionId"]
    code, status, _ = error_code(lam.publish_version, FunctionName=FN, RevisionId="00000000-0000-4000-8000-000000000000")
    assert (code, status) == ("PreconditionFailedException", 412), (code, status)
    code, status, _ = error_code(lam.update_function_configuration, FunctionName=FN, Timeout=5,
                                 RevisionId="00000000-0000-4000-8000-000000000000")
    assert (code, status) == ("PreconditionFailedException", 412), (code, status)
    version = lam.publish_version(FunctionName=FN, RevisionId=config["RevisionId"])
    assert version["RevisionId"], version
    alias = lam.create_alias(FunctionName=FN, Name="rev", FunctionVersion=version["Version"])
    code, status, _ = error_code(lam.update_alias, FunctionName=FN, Name="rev", Description="x", RevisionId="stale")
    assert (code, status) == ("PreconditionFailedException", 412), (code, status)
    updated = lam.update_alias(FunctionName=FN, Name="rev", Description="x", RevisionId=alias["RevisionId"])
    assert updated["RevisionId"] != alias["RevisionId"]
    lam.delete_alias(FunctionName=FN, Name="rev")


@check("last_modified_stable")
def _():
    # AWS: LastModified is when code or configuration last changed (ISO 8601, +0000); invoking changes neither it nor CodeSha256.
    before = lam.get_function_configuration(FunctionName=FN)
    assert before["LastModified"].endswith("+0000"), before["LastModified"]
    # The call takes milliseconds, so a LastModified rewritten by it would differ.
    lam.invoke(FunctionName=FN, Payload=b"{}")
    after = lam.get_function_configuration(FunctionName=FN)
    for key in ["LastModified", "CodeSha256", "RevisionId"]:
        assert before[key] == after[key], (key, before[key], after[key])


@check("pagination")
def _():
    # AWS: MaxItems bounds a page, NextMarker leads to the next; botocore's paginators return every item once.
    for n in range(3):
        lam.update_function_configuration(FunctionName=FN, Description="page %d" % n)
        lam.publish_version(FunctionName=FN)
    everything = [v["Version"] for v in lam.list_versions_by_function(FunctionName=FN, MaxItems=1000)["Versions"]]
    first = lam.list_versions_by_function(FunctionName=FN, MaxItems=2)
    assert len(first["Versions"]) == 2 and "NextMarker" in first, first.keys()
    paged = [v["Version"] for page in lam.get_paginator("list_versions_by_function").paginate(FunctionName=FN, PaginationConfig={"PageSize": 2})
             for v in page["Versions"]]
    assert paged == everything and len(set(paged)) == len(paged), (paged, everything)
    functions = [f["FunctionName"] for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1}) for f in page["Functions"]]
    assert len(functions) == len(set(functions)) and {FN, BOOM} <= set(functions), functions
    for n in range(3):
        lam.create_alias(FunctionName=FN, Name="page%d" % n, FunctionVersion=everything[-1])
    aliases = [a["Name"] for page in lam.get_paginator("list_aliases").paginate(FunctionName=FN, PaginationConfig={"PageSize": 1}) for a in page["Aliases"]]
    assert [a for a in aliases if a.startswith("page")] == ["page0", "page1", "page2"], aliases
    for n in range(3):
        lam.delete_alias(FunctionName=FN, Name="page%d" % n)


@check("payload_limits")
def _():
    # AWS (Invoke API reference): 6 MB synchronous, 1 MB asynchronous; beyond → 413 (RequestEntityTooLargeException on the wire).
    big = json.dumps("x" * (1024 * 1024 - 2)).encode()
    assert len(big) == 1024 * 1024
    assert lam.invoke(FunctionName=FN, InvocationType="Event", Payload=big)["StatusCode"] == 202
    code, status, _ = error_code(lam.invoke, FunctionName=FN, InvocationType="Event", Payload=json.dumps("x" * (1024 * 1024)).encode())
    assert (code, status) == ("RequestEntityTooLargeException", 413), (code, status)
    code, status, _ = error_code(lam.invoke, FunctionName=FN, Payload=json.dumps("x" * (6 * 1024 * 1024)).encode())
    assert (code, status) == ("RequestEntityTooLargeException", 413), (code, status)


@check("stack_trace_user_frames")
def _():
    # AWS's Python runtime: errorMessage, errorType, requestId, stackTrace of the user's frames only.
    answer = lam.invoke(FunctionName=BOOM, Payload=b"{}")
    assert answer["FunctionError"] == "Unhandled", answer
    error = json.loads(answer["Payload"].read())
    assert error["errorType"] == "RuntimeError" and error["errorMessage"] == "boom", error
    assert error["requestId"] == answer["ResponseMetadata"]["RequestId"], (error, answer["ResponseMetadata"])
    assert error["stackTrace"] and all("bootstrap" not in frame for frame in error["stackTrace"]), error["stackTrace"]
    assert 'in boom' in error["stackTrace"][0], error["stackTrace"]


@check("invoke_foreign_arn")
def _():
    # AWS: an ARN of another account or region names a function that does not exist here.
    for arn in ["arn:aws:lambda:us-east-1:999999999999:function:%s" % FN, "arn:aws:lambda:eu-west-1:%s:function:%s" % (ACCOUNT, FN)]:
        for call in [lambda: lam.invoke(FunctionName=arn, Payload=b"{}"), lambda: lam.get_function(FunctionName=arn)]:
            code, status, _ = error_code(call)
            assert (code, status) == ("ResourceNotFoundException", 404), (arn, code, status)
    assert lam.invoke(FunctionName="arn:aws:lambda:%s:%s:function:%s" % (REGION, ACCOUNT, FN), Payload=b"{}")["StatusCode"] == 200


@check("delete_missing_function")
def _():
    # AWS: DeleteFunction of a function that does not exist → 404 ResourceNotFoundException.
    code, status, _ = error_code(lam.delete_function, FunctionName="NoSuchFunction")
    assert (code, status) == ("ResourceNotFoundException", 404), (code, status)


@check("update_code_zip")
def _():
    # AWS: UpdateFunctionCode with ZipFile; CodeSha256 = base64 SHA-256 of the zip; the function_updated_v2 waiter returns;
    # publish_version publishes it; CodeSha256 on publish_version must match $LATEST's.
    package = zip_of({"app.py": "def handler(event, context):\n    return {'updated': True}\n"})
    answer = lam.update_function_code(FunctionName=FN, ZipFile=package)
    expected = base64.b64encode(hashlib.sha256(package).digest()).decode()
    assert answer["CodeSha256"] == expected, (answer["CodeSha256"], expected)
    lam.get_waiter("function_updated_v2").wait(FunctionName=FN, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    assert json.loads(lam.invoke(FunctionName=FN, Payload=b"{}")["Payload"].read()) == {"updated": True}
    code, status, _ = error_code(lam.publish_version, FunctionName=FN, CodeSha256="bm90IHRoZSBoYXNo")
    assert status in (400, 412), (code, status)
    version = lam.publish_version(FunctionName=FN, CodeSha256=expected)
    assert version["CodeSha256"] == expected, version
    assert json.loads(lam.invoke(FunctionName=FN, Qualifier=version["Version"], Payload=b"{}")["Payload"].read()) == {"updated": True}
    code, _, _ = error_code(lam.update_function_code, FunctionName=FN, ZipFile=b"not a zip")
    assert code == "InvalidParameterValueException", code
    lam.update_function_code(FunctionName=FN, ZipFile=ECHO_ZIP)


@check("update_configuration")
def _():
    # AWS: UpdateFunctionConfiguration changes $LATEST (new RevisionId, LastModified); published versions keep theirs.
    before = lam.get_function_configuration(FunctionName=FN)
    version = lam.publish_version(FunctionName=FN)
    answer = lam.update_function_configuration(FunctionName=FN, Timeout=7, MemorySize=256, Environment={"Variables": {"MODE": "new"}},
                                               RevisionId=before["RevisionId"])
    assert (answer["Timeout"], answer["MemorySize"], answer["Environment"]["Variables"]) == (7, 256, {"MODE": "new"}), answer
    assert answer["RevisionId"] != before["RevisionId"]
    lam.get_waiter("function_updated_v2").wait(FunctionName=FN, WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    kept = lam.get_function_configuration(FunctionName=FN, Qualifier=version["Version"])
    assert (kept["Timeout"], kept["MemorySize"]) == (version["Timeout"], version["MemorySize"]), kept
    code, status, _ = error_code(lam.update_function_configuration, FunctionName=FN, Timeout=901)
    assert (code, status) in [("ValidationException", 400), ("InvalidParameterValueException", 400)], (code, status)


@check("tags")
def _():
    # AWS: tag_resource / untag_resource / list_tags on the function ARN; Tags in get_function.
    arn = lam.get_function(FunctionName=FN)["Configuration"]["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"team": "a", "stage": "dev"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a", "stage": "dev"}
    lam.untag_resource(Resource=arn, TagKeys=["stage"])
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a"}
    assert lam.get_function(FunctionName=FN)["Tags"] == {"team": "a"}
    code, status, _ = error_code(lam.list_tags, Resource="arn:aws:lambda:%s:%s:function:NoSuchFunction" % (REGION, ACCOUNT))
    assert (code, status) == ("ResourceNotFoundException", 404), (code, status)


@check("reserved_concurrency")
def _():
    # AWS: put_function_concurrency answers the reservation; get_function_concurrency answers it, or {} without one;
    # get_function shows it as Concurrency; delete_function_concurrency → 204; an unknown function → 404.
    assert lam.put_function_concurrency(FunctionName=FN, ReservedConcurrentExecutions=3)["ReservedConcurrentExecutions"] == 3
    assert lam.get_function_concurrency(FunctionName=FN)["ReservedConcurrentExecutions"] == 3
    assert lam.get_function(FunctionName=FN)["Concurrency"] == {"ReservedConcurrentExecutions": 3}
    lam.delete_function_concurrency(FunctionName=FN)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(FunctionName=FN)
    assert "Concurrency" not in lam.get_function(FunctionName=FN)
    code, status, _ = error_code(lam.put_function_concurrency, FunctionName="NoSuchFunction", ReservedConcurrentExecutions=1)
    assert (code, status) == ("ResourceNotFoundException", 404), (code, status)


@check("account_settings")
def _():
    # AWS: get_account_settings has AccountLimit.ConcurrentExecutions and UnreservedConcurrentExecutions, which a
    # reservation lowers by its size.
    limit = lam.get_account_settings()["AccountLimit"]
    before = limit["UnreservedConcurrentExecutions"]
    assert limit["ConcurrentExecutions"] >= before > 0, limit
    lam.put_function_concurrency(FunctionName=FN, ReservedConcurrentExecutions=3)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == before - 3
    lam.delete_function_concurrency(FunctionName=FN)
    assert lam.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == before


@check("delete_alias_and_version")
def _():
    # AWS: DeleteFunction with Qualifier deletes one version (409 while an alias routes to it); delete_alias → 204.
    version = lam.publish_version(FunctionName=FN, Description="to delete")["Version"]
    lam.update_function_configuration(FunctionName=FN, Description="after %s" % version)
    lam.create_alias(FunctionName=FN, Name="doomed", FunctionVersion=version)
    code, status, _ = error_code(lam.delete_function, FunctionName=FN, Qualifier=version)
    assert (code, status) == ("ResourceConflictException", 409), (code, status)
    lam.delete_alias(FunctionName=FN, Name="doomed")
    code, status, _ = error_code(lam.get_alias, FunctionName=FN, Name="doomed")
    assert (code, status) == ("ResourceNotFoundException", 404), (code, status)
    lam.delete_function(FunctionName=FN, Qualifier=version)
    code, status, _ = error_code(lam.get_function, FunctionName=FN, Qualifier=version)
    assert (code, status) == ("ResourceNotFoundException", 404), (code, status)
    code, status, _ = error_code(lam.delete_function, FunctionName=FN, Qualifier="$LATEST")
    assert (code, status) == ("InvalidParameterValueException", 400), (code, status)


@check("codedeploy_get_deployment")
def _():
    # AWS: GetDeployment's deploymentInfo: status, times, deploymentOverview, computePlatform Lambda.
    info = cd.get_deployment(deploymentId=os.environ["DEPLOYMENT"])["deploymentInfo"]
    assert info["status"] == "Succeeded" and info["computePlatform"] == "Lambda", info
    assert info["deploymentOverview"]["Succeeded"] == 1 and info["completeTime"] >= info["createTime"], info
    assert info["deploymentGroupName"].endswith("DeploymentGroup"), info


@check("codedeploy_list_and_paginate")
def _():
    # AWS: ListDeployments filters by status; its paginator returns every id once.
    succeeded = cd.list_deployments(includeOnlyStatuses=["Succeeded"])["deployments"]
    assert os.environ["DEPLOYMENT"] in succeeded, succeeded
    assert os.environ["DEPLOYMENT"] not in cd.list_deployments(includeOnlyStatuses=["Failed"])["deployments"]
    every = [d for page in cd.get_paginator("list_deployments").paginate() for d in page["deployments"]]
    assert len(every) == len(set(every)) and os.environ["DEPLOYMENT"] in every, every
    code, _, _ = error_code(cd.list_deployments, applicationName="NoSuchApplication", deploymentGroupName="x")
    assert code == "ApplicationDoesNotExistException", code


@check("codedeploy_waiter")
def _():
    # botocore's DeploymentSuccessful waiter: returns on Succeeded.
    cd.get_waiter("deployment_successful").wait(deploymentId=os.environ["DEPLOYMENT"], WaiterConfig={"Delay": 1, "MaxAttempts": 3})


@check("codedeploy_unknown_ids")
def _():
    # botocore's CodeDeploy model: DeploymentDoesNotExistException, InvalidDeploymentIdException,
    # DeploymentAlreadyCompletedException, InvalidLifecycleEventHookExecutionIdException.
    code, _, _ = error_code(cd.get_deployment, deploymentId="d-AAAAAAAAA")
    assert code == "DeploymentDoesNotExistException", code
    code, _, _ = error_code(cd.get_deployment, deploymentId="not an id")
    assert code == "InvalidDeploymentIdException", code
    code, _, _ = error_code(cd.stop_deployment, deploymentId=os.environ["DEPLOYMENT"])
    assert code == "DeploymentAlreadyCompletedException", code
    code, _, _ = error_code(cd.put_lifecycle_event_hook_execution_status, deploymentId=os.environ["DEPLOYMENT"],
                            lifecycleEventHookExecutionId="nope", status="Succeeded")
    modelled = [shape.name for shape in botocore.session.get_session().get_service_model("codedeploy").error_shapes]
    assert code == "InvalidLifecycleEventHookExecutionIdException" and code in modelled, code

only = set(sys.argv[1:])
for name, body in results:
    if only and name not in only:
        continue
    if TARGET == "moto" and MOTO_DIFFERS.get(name) and not os.environ.get("STRICT"):
        print("skip %s: %s" % (name, MOTO_DIFFERS[name]))
        continue
    try:
        body()
        print("ok %s" % name)
    except Exception as exc:  # noqa: BLE001 - every failure is reported, none stops the rest
        print("FAIL %s: %s" % (name, "".join(traceback.format_exception_only(type(exc), exc)).strip()))
    sys.stdout.flush()
