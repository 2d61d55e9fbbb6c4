# Who may call greeting: both greeters, the container and the Lambda.
Kind = "service-intentions"
Name = "greeting"
Sources = [
  {
    Name   = "greeter"
    Action = "allow"
  },
  {
    Name   = "greeter-lambda"
    Action = "allow"
  },
]
