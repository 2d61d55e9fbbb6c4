# Applied against moto on loopback by scripts/test-terraform, then destroyed.

run "vpc" {
  module {
    source = "../../tests/fixtures/vpc"
  }
}

run "setup" {
  module {
    source = "./tests/setup"
  }

  variables {
    vpc_id = run.vpc.vpc_id
  }
}

run "cluster" {
  module {
    source = "../cluster"
  }

  variables {
    # Not the cluster module's own test's name: the tests run side by side.
    name = "greeter-test-prom"
  }
}

run "alb" {
  module {
    source = "../ingress-alb"
  }

  variables {
    name                     = "greeter-test-ingress"
    vpc_id                   = run.vpc.vpc_id
    subnet_ids               = run.vpc.subnet_ids
    ingress_cidrs            = ["203.0.113.7/32"]
    target_security_group_id = run.setup.mesh_security_group_id
  }
}

variables {
  name                      = "greeter-test"
  consul_server             = "greeter-test-consul.dc1"
  envoy_services            = ["greeter-sidecar-proxy", "terminating-gateway", "greeter-test-mesh-gateway"]
  service_ports             = { ingress = 8080, greeter = 3000, greeting = 3000, name = 3000 }
  ingress_cidrs             = ["203.0.113.7/32"]
  consul_ca_cert_secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:placeholder"
}

run "runs_beside_the_mesh_and_answers_ingress_cidrs_only" {
  command = apply

  variables {
    vpc_id                          = run.vpc.vpc_id
    subnet_ids                      = run.vpc.subnet_ids
    cluster_arn                     = run.cluster.cluster_arn
    log_group_name                  = run.cluster.log_group_name
    consul_server_security_group_id = run.setup.consul_security_group_id
    consul_ca_cert_secret_arn       = run.setup.ca_secret_arn
    target_security_group_id        = run.setup.mesh_security_group_id
    load_balancer_arn               = run.alb.arn
    load_balancer_dns_name          = run.alb.dns_name
    load_balancer_security_group_id = run.alb.security_group_id
  }

  assert {
    condition     = output.admitted.load_balancer == toset(["tcp:9090-9090<203.0.113.7/32"])
    error_message = "the ALB must admit exactly ingress_cidrs on 9090; got ${jsonencode(output.admitted)}"
  }

  assert {
    condition     = output.admitted.prometheus == "tcp:9090-9090<${run.alb.security_group_id}"
    error_message = "Prometheus must admit its load balancer alone; got ${output.admitted.prometheus}"
  }

  assert {
    condition     = output.scrapes == toset([9102, 8080, 3000])
    error_message = "the mesh tasks must admit Prometheus on Envoy's 9102 and the services' ports; got ${jsonencode(output.scrapes)}"
  }

  assert {
    condition     = output.jobs == ["prometheus", "envoy", "envoy-mesh", "greeter", "greeting", "ingress", "name"]
    error_message = "jobs prometheus, envoy, envoy-mesh and one per service expected, as in the compose stack; got ${jsonencode(output.jobs)}"
  }

  assert {
    # Terraform evaluates both sides of ||: lookup, not j.consul_sd_configs.
    condition = length(flatten([
      for j in yamldecode(output.config).scrape_configs : [
        for sd in lookup(j, "consul_sd_configs", []) : sd
        if sd.server == "greeter-test-consul.dc1:8501" && sd.scheme == "https" && sd.tls_config.ca_file == "/prometheus/consul-ca.pem"
      ]
    ])) == 6
    error_message = "every job but prometheus's own must find its targets in Consul's catalog over HTTPS with the CA; got ${output.config}"
  }

  assert {
    condition = one([for j in yamldecode(output.config).scrape_configs : j.relabel_configs[0].replacement if j.job_name == "envoy"]) == "$1:9102" && one([
      for j in yamldecode(output.config).scrape_configs : j.relabel_configs[0].replacement if j.job_name == "ingress"
    ]) == "$1:8080"
    error_message = "Envoys must be scraped on 9102 and ingress on 8080; got ${output.config}"
  }

  assert {
    condition = jsonencode([for j in yamldecode(output.config).scrape_configs : j.consul_sd_configs[0].services if j.job_name == "envoy"]) == jsonencode([["ingress-sidecar-proxy"]]) && one([
      for j in yamldecode(output.config).scrape_configs : j.metric_relabel_configs[0].target_label if j.job_name == "envoy-mesh"
    ]) == "destination_service"
    error_message = "the job envoy must be ingress's sidecar alone, and the other Envoys' destination label renamed; got ${output.config}"
  }

  assert {
    condition     = output.listener.port == 9090 && output.listener.protocol == "HTTP" && output.url == "http://${run.alb.dns_name}:9090"
    error_message = "an HTTP listener on 9090 expected; got ${jsonencode(output.listener)}, ${output.url}"
  }
}

run "refuses_prometheus_open_to_anyone" {
  command = plan

  variables {
    vpc_id                          = run.vpc.vpc_id
    subnet_ids                      = run.vpc.subnet_ids
    cluster_arn                     = run.cluster.cluster_arn
    log_group_name                  = run.cluster.log_group_name
    consul_server_security_group_id = run.setup.consul_security_group_id
    target_security_group_id        = run.setup.mesh_security_group_id
    load_balancer_arn               = run.alb.arn
    load_balancer_dns_name          = run.alb.dns_name
    load_balancer_security_group_id = run.alb.security_group_id
    ingress_cidrs                   = ["0.0.0.0/0"]
  }

  expect_failures = [var.ingress_cidrs]
}
