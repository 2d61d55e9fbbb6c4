# Applied against moto on loopback by scripts/test-terraform, then destroyed.

run "vpc" {
  module {
    source = "../../tests/fixtures/vpc"
  }
}

run "ingress_task" {
  module {
    source = "../mesh-network/tests/server"
  }

  variables {
    vpc_id = run.vpc.vpc_id
  }
}

run "admits_only_ingress_cidrs_and_forwards_to_ingress" {
  command = apply

  variables {
    name                     = "greeter-test"
    vpc_id                   = run.vpc.vpc_id
    subnet_ids               = run.vpc.subnet_ids
    ingress_cidrs            = ["203.0.113.7/32", "198.51.100.0/24"]
    target_security_group_id = run.ingress_task.security_group_id
  }

  assert {
    condition     = output.admitted == toset(["tcp:80-80<203.0.113.7/32", "tcp:80-80<198.51.100.0/24"])
    error_message = "the ALB must admit exactly ingress_cidrs on port 80; got ${jsonencode(output.admitted)}"
  }

  assert {
    condition     = output.listener.port == 80 && output.listener.protocol == "HTTP" && output.listener.target_group == output.target_group_arn
    error_message = "an HTTP listener on 80 forwarding to the ingress target group expected; got ${jsonencode(output.listener)}"
  }

  assert {
    condition     = can(regex(":listener/app/greeter-test/", output.listener.arn))
    error_message = "the listener must belong to the greeter-test ALB; got ${output.listener.arn}"
  }
}

run "reads_the_listener_back_from_elb" {
  module {
    source = "./tests/readback"
  }

  variables {
    listener_arn      = run.admits_only_ingress_cidrs_and_forwards_to_ingress.listener.arn
    security_group_id = run.admits_only_ingress_cidrs_and_forwards_to_ingress.security_group_id
  }

  assert {
    condition     = output.listener_port == 80 && output.listener_protocol == "HTTP"
    error_message = "ELB must hold the listener on HTTP:80; got ${output.listener_protocol}:${output.listener_port}"
  }

  assert {
    condition     = output.ingress_cidrs == toset(["203.0.113.7/32", "198.51.100.0/24"])
    error_message = "EC2 must hold exactly ingress_cidrs on the ALB's security group; got ${jsonencode(output.ingress_cidrs)}"
  }
}

run "refuses_an_ingress_cidr_that_is_not_one" {
  command = plan

  variables {
    name                     = "greeter-test"
    vpc_id                   = run.vpc.vpc_id
    subnet_ids               = run.vpc.subnet_ids
    ingress_cidrs            = ["203.0.113.7"]
    target_security_group_id = run.ingress_task.security_group_id
  }

  expect_failures = [var.ingress_cidrs]
}
