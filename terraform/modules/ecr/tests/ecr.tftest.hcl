# Applied against moto on loopback by scripts/test-terraform, then destroyed.

variables {
  repositories = ["ingress", "greeter", "greeting", "name", "consul-lambda-registrator"]
  prefix       = "greeter-test"
}

run "creates_one_scanned_repository_per_name_in_one_registry" {
  command = apply

  assert {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com$", output.registry))
    error_message = "registry must read ACCOUNT.dkr.ecr.REGION.amazonaws.com, as scripts/push-ecr expects; got ${output.registry}"
  }

  assert {
    condition     = toset(keys(output.repository_urls)) == toset(var.repositories)
    error_message = "one repository per name expected; got ${jsonencode(keys(output.repository_urls))}"
  }

  assert {
    condition     = alltrue([for name, url in output.repository_urls : url == "${output.registry}/greeter-test/${name}"])
    error_message = "every repository must be REGISTRY/PREFIX/NAME, as scripts/push-ecr pushes to; got ${jsonencode(output.repository_urls)}"
  }

  assert {
    condition     = alltrue(values(output.scan_on_push))
    error_message = "every repository must scan on push"
  }
}

run "refuses_a_prefix_ecr_would_refuse" {
  command = plan

  variables {
    prefix = "Greeter/"
  }

  expect_failures = [var.prefix]
}

run "refuses_a_name_ecr_would_refuse" {
  command = plan

  variables {
    repositories = ["Greeter"]
  }

  expect_failures = [var.repositories]
}
