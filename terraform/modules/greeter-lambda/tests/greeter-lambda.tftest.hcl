# Applied against moto on loopback by scripts/test-terraform, then destroyed.
# extension_zip: scripts/test-terraform writes a stand-in zip (the real one
# comes from scripts/fetch-lambda-extension) and passes its path in TF_VAR_.

variables {
  name                  = "greeter-test"
  extension_version     = "0.1.0-beta5"
  extension_data_prefix = "/greeter-test"
}

run "grants_exactly_what_the_function_and_the_gateway_need" {
  command = apply

  assert {
    # Compared as JSON: a map of lists and an object of tuples are never equal in HCL.
    condition = jsonencode({
      for s in jsondecode(output.role_policy).Statement : s.Sid => sort(flatten([s.Action]))
      }) == jsonencode({
      VpcNetworkInterfaces = ["ec2:AssignPrivateIpAddresses", "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:UnassignPrivateIpAddresses"]
      XRayTraces           = ["xray:PutTelemetryRecords", "xray:PutTraceSegments"]
      OwnLogs              = ["logs:CreateLogStream", "logs:PutLogEvents"]
      ConsulExtensionData  = ["ssm:GetParameter"]
    })
    error_message = "the role must carry exactly the VPC, X-Ray, log and SSM actions; got ${output.role_policy}"
  }

  assert {
    condition = can(regex("^arn:aws:ssm:us-east-1:[0-9]{12}:parameter/greeter-test/\\*$", one([
      for s in jsondecode(output.role_policy).Statement : s.Resource if s.Sid == "ConsulExtensionData"
    ])))
    error_message = "ssm:GetParameter must be limited to the extension data prefix; got ${output.role_policy}"
  }

  assert {
    condition = jsonencode([
      for s in jsondecode(output.invoke_policy).Statement : { actions = flatten([s.Action]), resources = sort(flatten([s.Resource])) }
      ]) == jsonencode([{
        actions   = ["lambda:InvokeFunction"]
        resources = sort([output.function_arn, "${output.function_arn}:*"])
    }])
    error_message = "the gateway may only invoke greeter-lambda; got ${output.invoke_policy}"
  }

  assert {
    condition     = can(regex("^arn:aws:iam::[0-9]{12}:role/greeter-test-greeter-lambda$", output.role_arn)) && can(regex(":policy/greeter-test-greeter-lambda-invoke$", output.invoke_policy_arn))
    error_message = "the role and the invoke policy (IAM names are account-wide) must carry the copy's name; got ${output.role_arn}, ${output.invoke_policy_arn}"
  }

  assert {
    condition     = can(regex("^arn:aws:lambda:us-east-1:[0-9]{12}:function:greeter-lambda$", output.function_arn))
    error_message = "the function ARN must name greeter-lambda in the provider's region; got ${output.function_arn}"
  }

  assert {
    condition     = can(regex(":layer:greeter-test-consul-lambda-extension:[0-9]+$", output.layer_arn)) && output.layer_architectures == toset(["arm64"])
    error_message = "an arm64 consul-lambda-extension layer version expected; got ${output.layer_arn}"
  }
}

run "refuses_a_missing_extension_zip" {
  command = plan

  variables {
    extension_zip = "no-such-extension.zip"
  }

  expect_failures = [var.extension_zip]
}

run "refuses_a_prefix_that_is_not_a_path" {
  command = plan

  variables {
    extension_data_prefix = "greeter/"
  }

  expect_failures = [var.extension_data_prefix]
}
