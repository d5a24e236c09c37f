"""Enrollment of an AWS account: the set-up script, the CloudFormation template, the policies."""
