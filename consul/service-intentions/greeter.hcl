# Who may call the container greeter: only ingress.
Kind = "service-intentions"
Name = "greeter"
Sources = [
  {
    Name   = "ingress"
    Action = "allow"
  },
]
