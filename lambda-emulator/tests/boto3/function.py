#!/usr/bin/env python3
"""A Lambda function for test_invoke.py: a custom runtime of a few lines,
polling the Runtime API at AWS_LAMBDA_RUNTIME_API as a real one does. The
payload says what to do:

- a JSON string "error": posts a function error;
- a JSON string "answer:<n>": answers exactly n bytes, a JSON string of xs;
- anything else: answers the payload as it came (`null` for none).
"""

import json
import os
import sys
import urllib.error
import urllib.request

API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"


def post(path, body):
    request = urllib.request.Request(API + path, data=body, method="POST")
    try:
        with urllib.request.urlopen(request) as response:
            response.read()
    except urllib.error.HTTPError as refused:
        # Lambda refuses an answer over its limit (413); the runtime goes on.
        refused.read()


def main():
    while True:
        try:
            with urllib.request.urlopen(API + "/invocation/next") as invocation:
                request_id = invocation.headers["Lambda-Runtime-Aws-Request-Id"]
                payload = invocation.read()
        except OSError:
            sys.exit(0)  # the emulator stops an instance by dropping its Runtime API
        try:
            command = json.loads(payload) if payload else None
        except ValueError:
            command = None
        answer = f"/invocation/{request_id}/response"
        if command == "error":
            error = {"errorType": "Boom", "errorMessage": "it went boom"}
            post(f"/invocation/{request_id}/error", json.dumps(error).encode())
        elif isinstance(command, str) and command.startswith("answer:"):
            size = int(command.removeprefix("answer:"))
            post(answer, b'"' + b"x" * (size - 2) + b'"')
        else:
            post(answer, payload or b"null")


if __name__ == "__main__":
    main()
