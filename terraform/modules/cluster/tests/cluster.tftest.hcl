# Applied against moto on loopback by scripts/test-terraform, then destroyed.

variables {
  name = "greeter-test"
}

run "creates_a_fargate_cluster_and_its_log_group" {
  command = apply

  assert {
    condition     = output.cluster_name == "greeter-test" && can(regex(":cluster/greeter-test$", output.cluster_arn))
    error_message = "cluster named after var.name expected; got ${output.cluster_arn}"
  }

  assert {
    condition     = toset(output.capacity_providers) == toset(["FARGATE"])
    error_message = "Fargate must be the only capacity provider; got ${jsonencode(output.capacity_providers)}"
  }

  assert {
    condition     = output.log_group_name == "/ecs/greeter-test" && output.log_retention_days == 7
    error_message = "log group /ecs/greeter-test kept 7 days expected; got ${output.log_group_name}, ${output.log_retention_days} days"
  }
}

run "refuses_a_retention_cloudwatch_would_refuse" {
  command = plan

  variables {
    log_retention_days = 10
  }

  expect_failures = [var.log_retention_days]
}
