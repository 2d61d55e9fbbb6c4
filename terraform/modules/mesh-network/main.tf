# Security groups of the mesh. Every mesh task (the four services, the
# gateways, the ACL controller) and the Lambda registrator share `mesh`:
# members reach each other's Envoy only, on the ports the mesh uses (each
# sidecar's public listener and the gateways' port). The apps' own ports
# stay closed to other members: their sidecars reach them on localhost, the
# ingress ALB and Prometheus are let in on their ports by their own modules,
# and the services' metrics port only by Prometheus. greeter-lambda gets
# `lambda`: nothing comes in, and it goes out only to AWS APIs (443) here;
# mesh-gateway-lb opens its way to the mesh gateway's load balancer.

locals {
  # Consul's HTTP, HTTPS, gRPC and gRPC-TLS ports, which dataplanes, the
  # controller and the registrator call.
  consul_ports = { from = 8500, to = 8503 }
}

resource "aws_security_group" "mesh" {
  name        = "${var.name}-mesh"
  description = "Consul mesh tasks of ${var.name}: each other on any port"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "mesh_from_mesh" {
  for_each = var.mesh_ports

  security_group_id            = aws_security_group.mesh.id
  description                  = "Mesh members to ${each.key} (${each.value})"
  referenced_security_group_id = aws_security_group.mesh.id
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
}

resource "aws_vpc_security_group_egress_rule" "mesh_out" {
  # checkov:skip=CKV_AWS_382:Fargate tasks pull images from public ECR and call AWS APIs through the NAT gateway; the demo has no VPC endpoints to narrow this to
  security_group_id = aws_security_group.mesh.id
  description       = "Images, AWS APIs and the mesh"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
}

# The dev server's group admits the mesh; servers of your own admit this
# VPC by their own rules (docs/aws.md).
resource "aws_vpc_security_group_ingress_rule" "consul_from_mesh" {
  count = length(var.consul_server_security_group_ids)

  security_group_id            = var.consul_server_security_group_ids[count.index]
  description                  = "Consul HTTP(S) and gRPC from the mesh"
  referenced_security_group_id = aws_security_group.mesh.id
  ip_protocol                  = "tcp"
  from_port                    = local.consul_ports.from
  to_port                      = local.consul_ports.to
}

resource "aws_security_group" "lambda" {
  # checkov:skip=CKV2_AWS_5:attached to greeter-lambda by `cargo lambda deploy` (scripts/deploy-lambda), outside Terraform
  name        = "${var.name}-lambda"
  description = "greeter-lambda: out to AWS APIs and the mesh gateway only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "lambda_https" {
  security_group_id = aws_security_group.lambda.id
  description       = "AWS APIs: SSM for the extension's data, X-Ray"
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
}
