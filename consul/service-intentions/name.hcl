# Who may call name: both greeters, the container and the Lambda.
Kind = "service-intentions"
Name = "name"
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
