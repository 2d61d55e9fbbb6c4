# Every call not allowed above is denied, whatever the cluster's ACL default
# policy: exact intentions take precedence over this wildcard.
Kind = "service-intentions"
Name = "*"
Sources = [
  {
    Name   = "*"
    Action = "deny"
  },
]
