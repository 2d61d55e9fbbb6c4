# The terminating gateway invokes greeter-lambda on the mesh's behalf (Envoy's
# aws_lambda filter, SigV4-signed). Name is the gateway's own service name;
# its IAM role needs lambda:InvokeFunction on the function.
Kind = "terminating-gateway"
Name = "terminating-gateway"
Services = [
  {
    Name = "greeter-lambda"
  },
]
