output "url" {
  description = "Prometheus's UI and HTTP API (PROMETHEUS_URL for split migrate's metrics judge), from ingress_cidrs only."
  value       = "http://${var.load_balancer_dns_name}:${aws_lb_listener.prometheus.port}"
}

output "config" {
  description = "The Prometheus configuration the task starts with (YAML)."
  value       = local.config_yaml
}

output "jobs" {
  description = "The scrape jobs: prometheus, envoy (the splitting Envoy), envoy-mesh (the others), and one per service."
  value       = [for j in local.config.scrape_configs : j.job_name]
}

output "task_definition_arn" {
  description = "The task definition."
  value       = aws_ecs_task_definition.prometheus.arn
}

output "service_name" {
  description = "The ECS service."
  value       = aws_ecs_service.prometheus.name
}

output "security_group_id" {
  description = "Prometheus's security group."
  value       = aws_security_group.prometheus.id
}

output "listener" {
  description = "The ALB listener: port, protocol and the target group it forwards to."
  value = {
    port         = aws_lb_listener.prometheus.port
    protocol     = aws_lb_listener.prometheus.protocol
    target_group = one(aws_lb_listener.prometheus.default_action[*].target_group_arn)
  }
}

output "admitted" {
  description = "What the ALB's security group admits for Prometheus, as PROTOCOL:FROM-TO<CIDR; and what Prometheus's admits, by group."
  value = {
    load_balancer = toset([for r in aws_vpc_security_group_ingress_rule.lb_in : "${r.ip_protocol}:${r.from_port}-${r.to_port}<${r.cidr_ipv4}"])
    prometheus    = "${aws_vpc_security_group_ingress_rule.prometheus_from_lb.ip_protocol}:${aws_vpc_security_group_ingress_rule.prometheus_from_lb.from_port}-${aws_vpc_security_group_ingress_rule.prometheus_from_lb.to_port}<${aws_vpc_security_group_ingress_rule.prometheus_from_lb.referenced_security_group_id}"
  }
}

output "scrapes" {
  description = "The ports Prometheus may reach on the mesh tasks, as the targets' group admits them."
  value       = toset([for r in aws_vpc_security_group_ingress_rule.targets_from_prometheus : r.from_port])
}

output "url_in_vpc" {
  description = "Prometheus's API for tasks in the VPC, by its Cloud Map name (null without service_discovery_namespace); their groups must be admitted on port (see the migration-controller module)."
  value       = var.service_discovery_namespace == null ? null : "http://prometheus.${var.service_discovery_namespace.name}:${local.port}"
}

output "port" {
  description = "The port the task serves its API on."
  value       = local.port
}

output "consul_egress" {
  description = "Where Prometheus may go for Consul's catalog: the servers' group, or their CIDR blocks, with the HTTPS port."
  value = {
    security_groups = toset(aws_vpc_security_group_egress_rule.prometheus_to_consul[*].referenced_security_group_id)
    cidrs           = toset([for r in aws_vpc_security_group_egress_rule.prometheus_to_consul_cidrs : r.cidr_ipv4])
    port            = var.consul_https_port
  }
}
