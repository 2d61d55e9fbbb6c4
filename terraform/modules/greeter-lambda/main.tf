# Everything greeter-lambda needs but its code, which `cargo lambda deploy`
# ships (scripts/deploy-lambda): its role, the consul-lambda-extension layer
# through which it calls name and greeting, its log group, and the policy that
# lets the terminating gateway invoke it.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  account      = data.aws_caller_identity.current.account_id
  partition    = data.aws_partition.current.partition
  region       = data.aws_region.current.name
  function_arn = "arn:${local.partition}:lambda:${local.region}:${local.account}:function:${var.function_name}"
  log_group    = "/aws/lambda/${var.function_name}"
  # IAM names are account-wide: the copy's name keeps two copies apart,
  # whatever region each is in.
  iam_name = "${var.name}-${var.function_name}"
}

resource "aws_cloudwatch_log_group" "function" {
  # checkov:skip=CKV_AWS_158:the logs hold one line per invocation, no secrets; a customer-managed KMS key costs $1 a month and outlives a destroy by 7 days
  # checkov:skip=CKV_AWS_338:a demo keeps a week of logs (log_retention_days), not a year
  name              = local.log_group
  retention_in_days = var.log_retention_days
  tags              = var.tags
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  name               = local.iam_name
  description        = "${var.function_name}: VPC, X-Ray, its logs and the Consul extension's data"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# Each statement is what one thing needs, and nothing more: the test reads the
# actions back and compares them with this list.
data "aws_iam_policy_document" "function" {
  # checkov:skip=CKV_AWS_111:EC2's network interface actions take no resource ARN: this is AWSLambdaVPCAccessExecutionRole's own statement
  # checkov:skip=CKV_AWS_356:as above; X-Ray's trace actions take no resource ARN either
  statement {
    sid = "VpcNetworkInterfaces"
    actions = [
      "ec2:AssignPrivateIpAddresses",
      "ec2:CreateNetworkInterface",
      "ec2:DeleteNetworkInterface",
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSubnets",
      "ec2:UnassignPrivateIpAddresses",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "XRayTraces"
    actions   = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
    resources = ["*"]
  }

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function.arn}:*"]
  }

  statement {
    sid       = "ConsulExtensionData"
    actions   = ["ssm:GetParameter"]
    resources = ["arn:${local.partition}:ssm:${local.region}:${local.account}:parameter${var.extension_data_prefix}/*"]
  }
}

resource "aws_iam_role_policy" "function" {
  name   = "${local.iam_name}-policy"
  role   = aws_iam_role.function.id
  policy = data.aws_iam_policy_document.function.json
}

resource "aws_lambda_layer_version" "extension" {
  layer_name               = "${var.name}-consul-lambda-extension"
  description              = "consul-lambda-extension ${var.extension_version}: calls into the Consul mesh through its mesh gateway"
  filename                 = var.extension_zip
  source_code_hash         = filebase64sha256(var.extension_zip)
  compatible_architectures = ["arm64"]
  compatible_runtimes      = ["provided.al2023"]
}

# Attached to the terminating gateway's task role: the gateway's Envoy signs
# the invocation with this role's credentials.
data "aws_iam_policy_document" "invoke" {
  statement {
    sid       = "InvokeGreeterLambda"
    actions   = ["lambda:InvokeFunction"]
    resources = [local.function_arn, "${local.function_arn}:*"]
  }
}

resource "aws_iam_policy" "invoke" {
  name        = "${local.iam_name}-invoke"
  description = "Invoke ${var.function_name}, and nothing else"
  policy      = data.aws_iam_policy_document.invoke.json
  tags        = var.tags
}
