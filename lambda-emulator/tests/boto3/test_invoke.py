"""lambda-emulator under boto3, the AWS SDK most callers of Lambda use: every
limit and refusal of lambda_emulator::invoke_api's table, for each invocation
type, raised as boto3 raises it against Lambda. A refusal botocore's model
of Invoke defines must arrive as exactly its class
(client.exceptions.ResourceNotFoundException, ...) with the model's members;
one the model lacks (RequestEntityTooLargeException, ValidationException),
as a plain ClientError with Lambda's code, and not as a modeled class.

Run by scripts/test-boto3, which builds the emulator and passes its path in
EMULATOR_BIN. Two emulators run function.py (a custom runtime in Python):
one as deployed, one with a reserved concurrency of 0 for the throttle.
"""

import base64
import json
import os
import queue
import subprocess
import sys
import threading
import time
import unittest
import urllib.request

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

HERE = os.path.dirname(os.path.abspath(__file__))
ARN = "arn:aws:lambda:us-east-1:123456789012:function:greeter-lambda"
SYNC_LIMIT = 6 * 1024 * 1024
EVENT_LIMIT = 1024 * 1024
RESPONSE_LIMIT = SYNC_LIMIT + 100
TYPES = ("RequestResponse", "Event", "DryRun")
STATUS = {"RequestResponse": 200, "Event": 202, "DryRun": 204}


class Emulator:
    """lambda-emulator on a port of its own, its output read to the end
    (kept for a failure's report) so it never blocks on a full pipe."""

    def __init__(self, **env):
        self.lines = []
        self.process = subprocess.Popen(
            [os.environ["EMULATOR_BIN"]],
            env={
                "PATH": os.environ["PATH"],
                "PORT": "0",
                "LOG_FORMAT": "json",
                "AWS_REGION": "us-east-1",
                "EMULATOR_BOOTSTRAP": os.path.join(HERE, "function.py"),
                **env,
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        ports = queue.Queue()
        threading.Thread(target=self._read, args=(ports,), daemon=True).start()
        try:
            port = ports.get(timeout=60)
        except queue.Empty:
            self.stop()
            raise AssertionError("the emulator did not listen within 60 s:\n" + self.log())
        self.url = f"http://127.0.0.1:{port}"
        self.client = boto3.client(
            "lambda",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            # One attempt: botocore would retry a throttle or a 5xx.
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}, read_timeout=60),
        )

    def _read(self, ports):
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip("\n")
            self.lines.append(line)
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and event.get("message") == "listening":
                ports.put(event["addr"].rsplit(":", 1)[1])

    def log(self):
        return "\n".join(self.lines[-40:])

    def metric(self, name):
        with urllib.request.urlopen(self.url + "/metrics") as response:
            text = response.read().decode()
        prefix = name + '{function_name="greeter-lambda"} '
        return float(next(line[len(prefix):] for line in text.splitlines() if line.startswith(prefix)))

    def wait_for_metric(self, name, value):
        deadline = time.monotonic() + 60
        while self.metric(name) != value:
            if time.monotonic() > deadline:
                raise AssertionError(f"{name} never read {value}: {self.metric(name)}\n{self.log()}")
            time.sleep(0.05)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)


def padded(command, size):
    """A JSON payload of exactly `size` bytes that function.py reads as `command`."""
    text = json.dumps(command).encode()
    return text + b" " * (size - len(text))


class InvokeUnderBoto3(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.emulator = Emulator()
        cls.throttling = Emulator(EMULATOR_RESERVED_CONCURRENCY="0")
        cls.client = cls.emulator.client

    @classmethod
    def tearDownClass(cls):
        cls.emulator.stop()
        cls.throttling.stop()

    def refused(self, call, expected_class, code, status, message, client=None):
        """Runs `call`, which must raise exactly `expected_class` with `code`,
        HTTP `status` and `message`; returns the parsed error response."""
        client = client or self.client
        with self.assertRaises(ClientError) as caught:
            call()
        error = caught.exception
        self.assertIs(type(error), expected_class, error.response)
        self.assertEqual(error.response["Error"]["Code"], code)
        self.assertEqual(error.response["Error"]["Message"], message)
        self.assertEqual(error.response["ResponseMetadata"]["HTTPStatusCode"], status)
        self.assertRegex(error.response["ResponseMetadata"]["RequestId"], r"^[0-9a-f-]{36}$")
        return error.response

    def test_each_type_answers_with_lambdas_status_and_a_synchronous_one_with_its_log(self):
        answer = self.client.invoke(FunctionName=ARN, Payload=b'{"hello": "world"}', LogType="Tail")
        self.assertEqual(answer["StatusCode"], 200)
        self.assertEqual(answer["ExecutedVersion"], "$LATEST")
        self.assertNotIn("FunctionError", answer)
        self.assertEqual(answer["Payload"].read(), b'{"hello": "world"}')
        log = base64.b64decode(answer["LogResult"]).decode()
        request_id = answer["ResponseMetadata"]["RequestId"]
        self.assertIn(f"START RequestId: {request_id} Version: $LATEST\n", log)
        self.assertIn(f"\nREPORT RequestId: {request_id}\tDuration: ", log)
        for kind in ("Event", "DryRun"):
            answer = self.client.invoke(FunctionName="greeter-lambda", InvocationType=kind, Payload=b"{}")
            self.assertEqual(answer["StatusCode"], STATUS[kind], kind)

    def test_a_function_error_is_200_with_function_error_unhandled(self):
        answer = self.client.invoke(FunctionName=ARN, Payload=b'"error"')
        self.assertEqual((answer["StatusCode"], answer["FunctionError"]), (200, "Unhandled"))
        self.assertEqual(json.loads(answer["Payload"].read()), {"errorType": "Boom", "errorMessage": "it went boom"})

    def test_a_payload_over_6_mib_is_request_entity_too_large_for_every_type(self):
        # A plain ClientError, exactly: Lambda does not send the model's
        # RequestTooLargeException, and a caller catching only that class
        # would miss this refusal on AWS too.
        over = padded("echo", SYNC_LIMIT + 1)
        for kind in TYPES:
            with self.subTest(kind):
                self.refused(
                    lambda: self.client.invoke(FunctionName=ARN, InvocationType=kind, Payload=over),
                    ClientError,
                    "RequestEntityTooLargeException",
                    413,
                    "Request must be smaller than 6291456 bytes for the InvokeFunction operation",
                )
        at_the_limit = self.client.invoke(FunctionName=ARN, Payload=padded("answer:4", SYNC_LIMIT))
        self.assertEqual(at_the_limit["Payload"].read(), b'"xx"')

    def test_an_event_over_1_mib_is_refused_naming_its_size_where_a_synchronous_one_runs(self):
        over = padded("answer:4", EVENT_LIMIT + 1)
        self.refused(
            lambda: self.client.invoke(FunctionName=ARN, InvocationType="Event", Payload=over),
            ClientError,
            "RequestEntityTooLargeException",
            413,
            "1048577 byte payload is too large for the Event invocation type (limit 1048576 bytes)",
        )
        at_the_limit = self.client.invoke(
            FunctionName=ARN, InvocationType="Event", Payload=padded("answer:4", EVENT_LIMIT)
        )
        self.assertEqual(at_the_limit["StatusCode"], 202)
        synchronous = self.client.invoke(FunctionName=ARN, Payload=over)
        self.assertEqual(synchronous["Payload"].read(), b'"xx"')

    def test_a_response_over_the_limit_is_the_function_error_response_size_too_large(self):
        errors = self.emulator.metric("lambda_errors_total")
        at_the_limit = self.client.invoke(FunctionName=ARN, Payload=json.dumps(f"answer:{RESPONSE_LIMIT}"))
        self.assertNotIn("FunctionError", at_the_limit)
        self.assertEqual(len(at_the_limit["Payload"].read()), RESPONSE_LIMIT)
        over = json.dumps(f"answer:{RESPONSE_LIMIT + 1}")
        answer = self.client.invoke(FunctionName=ARN, Payload=over)
        self.assertEqual((answer["StatusCode"], answer["FunctionError"]), (200, "Unhandled"))
        self.assertEqual(
            json.loads(answer["Payload"].read()),
            {
                "errorType": "Function.ResponseSizeTooLarge",
                "errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
            },
        )
        event = self.client.invoke(FunctionName=ARN, InvocationType="Event", Payload=over)
        self.assertEqual(event["StatusCode"], 202)
        # The Event's answer is nobody's, but it is an error all the same.
        self.emulator.wait_for_metric("lambda_errors_total", errors + 2)

    def test_a_payload_that_is_not_json_is_invalid_request_content_for_every_type(self):
        for kind in TYPES:
            with self.subTest(kind):
                response = self.refused(
                    lambda: self.client.invoke(FunctionName=ARN, InvocationType=kind, Payload=b"hello there"),
                    self.client.exceptions.InvalidRequestContentException,
                    "InvalidRequestContentException",
                    400,
                    "Could not parse request body into json: Could not parse payload into json: "
                    "expected value at line 1 column 1",
                )
                self.assertEqual(response["Type"], "User")

    def test_a_function_version_or_region_lambda_lacks_is_resource_not_found_for_every_type(self):
        cases = [
            ({"FunctionName": "nobody"}, "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nobody:$LATEST"),
            ({"FunctionName": ARN, "Qualifier": "live"}, f"Function not found: {ARN}:live"),
            ({"FunctionName": ARN.replace("us-east-1", "eu-west-1")},
             "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')"),
        ]
        for kind in TYPES:
            for params, message in cases:
                with self.subTest(kind=kind, **params):
                    response = self.refused(
                        lambda: self.client.invoke(InvocationType=kind, Payload=b"{}", **params),
                        self.client.exceptions.ResourceNotFoundException,
                        "ResourceNotFoundException",
                        404,
                        message,
                    )
                    # The model's member is `Message`, capitalised, for this error.
                    self.assertEqual((response["Type"], response["Message"]), ("User", message))

    def test_parameters_lambda_refuses_are_refused_alike_for_every_type(self):
        for kind in TYPES:
            with self.subTest(kind):
                response = self.refused(
                    lambda: self.client.invoke(
                        FunctionName="greeter-lambda:$LATEST", Qualifier="1", InvocationType=kind, Payload=b"{}"
                    ),
                    self.client.exceptions.InvalidParameterValueException,
                    "InvalidParameterValueException",
                    400,
                    "The derived qualifier from the function name does not match the specified qualifier.",
                )
                self.assertEqual(response["Type"], "User")
                self.refused(
                    lambda: self.client.invoke(FunctionName=ARN, InvocationType=kind, LogType="Everything"),
                    ClientError,
                    "ValidationException",
                    400,
                    "1 validation error detected: Value 'Everything' at 'logType' failed to satisfy "
                    "constraint: Member must satisfy enum value set: [None, Tail]",
                )
                self.refused(
                    lambda: self.client.invoke(FunctionName=ARN, InvocationType=kind, Qualifier="q" * 129),
                    ClientError,
                    "ValidationException",
                    400,
                    f"1 validation error detected: Value '{'q' * 129}' at 'qualifier' failed to satisfy "
                    "constraint: Member must have length less than or equal to 128",
                )
        self.refused(
            lambda: self.client.invoke(FunctionName=ARN, InvocationType="Later"),
            ClientError,
            "ValidationException",
            400,
            "1 validation error detected: Value 'Later' at 'invocationType' failed to satisfy "
            "constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]",
        )

    def test_past_the_reserved_concurrency_a_synchronous_invocation_is_throttled_and_an_event_queued(self):
        client = self.throttling.client
        response = self.refused(
            lambda: client.invoke(FunctionName=ARN, Payload=b"{}"),
            client.exceptions.TooManyRequestsException,
            "TooManyRequestsException",
            429,
            "Rate Exceeded.",
            client,
        )
        self.assertEqual(
            (response["Reason"], response["Type"], response["message"]),
            ("ReservedFunctionConcurrentInvocationLimitExceeded", "User", "Rate Exceeded."),
        )
        self.assertEqual(client.invoke(FunctionName=ARN, InvocationType="Event", Payload=b"{}")["StatusCode"], 202)
        self.assertEqual(self.throttling.metric("lambda_invocations_total"), 0)


if __name__ == "__main__":
    print(f"boto3 {boto3.__version__}, botocore {botocore.__version__}", file=sys.stderr)
    result = unittest.main(exit=False, verbosity=2).result
    emulator = getattr(InvokeUnderBoto3, "emulator", None)
    if not result.wasSuccessful() and emulator:
        print("--- the emulator's output (last 40 lines):", file=sys.stderr)
        print(emulator.log(), file=sys.stderr)
    sys.exit(0 if result.wasSuccessful() else 1)
