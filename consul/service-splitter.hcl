# Calls to greeter: 50% to the container greeter, 50% to greeter-lambda.
# Printed by `split splitter --lambda 50`.
Kind = "service-splitter"
Name = "greeter"
Splits = [
  {
    Weight  = 50
    Service = "greeter"
  },
  {
    Weight  = 50
    Service = "greeter-lambda"
  },
]
