#!/usr/bin/env bash
# Reach the isolated databases from a GitHub-hosted runner, for the postgresql provider.
#
# The databases accept connections only from their clients' security groups. The deploy job opens
# an SSM port-forwarding session through a running `api` task (ECS Exec; the api is a client of
# both databases) to each instance, and points the provider at localhost for this run only
# (`pulumi config set --path ... adminHost/adminPort` in the throwaway CI workspace, never committed).
# TLS still runs end to end (sslmode=require). Plan, apply and drift all run it (tools/deploy.py), so
# the provider is configured the same way in each. Needs: the state backend (PULUMI_BACKEND_URL), AWS
# credentials of the deploy or plan role (ecs:ExecuteCommand, ssm:StartSession: components/access.py),
# a running api task (the very first deploy of an account is run by an SRE: README "Bootstrapping an
# account"), and the AWS CLI with its Session Manager plugin, which GitHub's Ubuntu runner images
# install (actions/runner-images, images/ubuntu/scripts/build/install-aws-tools.sh). Nothing is
# downloaded here: this runs with credentials, after every install.
#
# Offline, the workflow-step tests run it against labelled stand-ins of `aws` and `pulumi`
# (tests/workflows/standins); against real AWS it has not run from this repository.
set -euo pipefail

stack="${1:?usage: db-tunnels.sh <stack>}"
cluster="platform-${stack}"

for tool in aws session-manager-plugin pulumi; do
  if ! command -v "$tool" > /dev/null; then
    echo "db-tunnels: $tool is not on PATH (GitHub's Ubuntu runners have it; install it elsewhere)" >&2
    exit 1
  fi
done

# Which app's task reaches each database: the stack file says (its `clients`), not this script.
targets="$(venv/bin/python -m tools.stack_config tunnels "$stack")"

mkdir -p build
# One local port per database from this base; a GitHub job has its runner to itself, so the default
# serves there. Jobs sharing one machine (the offline workflow tests under pytest-xdist) each set their own.
port="${DB_TUNNEL_BASE_PORT:-15432}"
while read -r database app; do
  service="platform-${stack}-${app}"
  task="$(aws ecs list-tasks --cluster "$cluster" --service-name "$service" --desired-status RUNNING \
    --query 'taskArns[0]' --output text)"
  if [ -z "$task" ] || [ "$task" = "None" ]; then
    echo "no running $service task to tunnel through to $database; run the first deploy as an SRE (see README)" >&2
    exit 1
  fi
  runtime="$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" \
    --query "tasks[0].containers[?name=='app'].runtimeId | [0]" --output text)"
  target="ecs:${cluster}_${task##*/}_${runtime}"
  endpoint="$(aws rds describe-db-instances --db-instance-identifier "platform-${stack}-${database}" \
    --query 'DBInstances[0].Endpoint.Address' --output text)"
  aws ssm start-session --target "$target" --document-name AWS-StartPortForwardingSessionToRemoteHost \
    --parameters "host=${endpoint},portNumber=5432,localPortNumber=${port}" > "build/tunnel-${database}.log" 2>&1 &
  pulumi config set --stack "$stack" --path "platform:databases.${database}.adminHost" localhost
  pulumi config set --stack "$stack" --path "platform:databases.${database}.adminPort" "$port"
  if ! timeout 60 bash -c "until (echo > /dev/tcp/127.0.0.1/${port}) 2> /dev/null; do sleep 1; done"; then
    echo "the tunnel to platform-${stack}-${database} did not open within 60 s:" >&2
    cat "build/tunnel-${database}.log" >&2
    exit 1
  fi
  echo "platform-${stack}-${database} reachable on localhost:${port} (through ${service})"
  port=$((port + 1))
done <<< "$targets"
