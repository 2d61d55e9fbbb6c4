# The ECS cluster every task runs in (Fargate only), and the one log group
# their containers write to, each under its own stream prefix.
resource "aws_ecs_cluster" "this" {
  # checkov:skip=CKV_AWS_65:Container Insights is billed per metric; a demo torn down the same day reads the task logs instead
  name = var.name
  tags = var.tags
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
  }
}

resource "aws_cloudwatch_log_group" "this" {
  # checkov:skip=CKV_AWS_158:the logs hold request lines only, no secrets; a customer-managed KMS key costs $1 a month and outlives a destroy by 7 days
  # checkov:skip=CKV_AWS_338:a demo keeps a week of logs (log_retention_days), not a year
  name              = "/ecs/${var.name}"
  retention_in_days = var.log_retention_days
  tags              = var.tags
}
