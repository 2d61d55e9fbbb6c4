# Who may call the Lambda greeter (through the terminating gateway): only
# ingress, the same caller as the container greeter it takes traffic from.
Kind = "service-intentions"
Name = "greeter-lambda"
Sources = [
  {
    Name   = "ingress"
    Action = "allow"
  },
]
