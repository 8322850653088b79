#!/usr/bin/env bash
# Reach the isolated databases from a GitHub-hosted runner, for the postgresql provider.
#
# The databases accept connections only from their clients' security groups. The deploy job opens
# an SSM port-forwarding session through a running `api` task (ECS Exec; the api is a client of
# both databases) to each instance, and points the provider at localhost for this run only
# (`pulumi config set --path ... adminHost/adminPort` in the throwaway CI workspace, never committed).
# TLS still runs end to end (sslmode=require). Needs: `pulumi login` done, AWS credentials of the
# deploy role (ecs:ExecuteCommand, ssm:StartSession), and a running api task: the very first deploy
# of an account is run by an SRE (README "Bootstrapping an account").
#
# Not exercised offline: there is no AWS here. The commands are the documented AWS CLI ones.
set -euo pipefail

stack="${1:?usage: db-tunnels.sh <stack>}"
cluster="platform-${stack}"
service="platform-${stack}-api"
plugin_version="1.2.707.0"

if ! command -v session-manager-plugin > /dev/null; then
  curl -fsSLo /tmp/session-manager-plugin.deb \
    "https://s3.amazonaws.com/session-manager-downloads/plugin/${plugin_version}/ubuntu_64bit/session-manager-plugin.deb"
  sudo dpkg -i /tmp/session-manager-plugin.deb
fi

task="$(aws ecs list-tasks --cluster "$cluster" --service-name "$service" --desired-status RUNNING \
  --query 'taskArns[0]' --output text)"
if [ -z "$task" ] || [ "$task" = "None" ]; then
  echo "no running $service task to tunnel through; run the first deploy as an SRE (see README)" >&2
  exit 1
fi
runtime="$(aws ecs describe-tasks --cluster "$cluster" --tasks "$task" \
  --query "tasks[0].containers[?name=='app'].runtimeId | [0]" --output text)"
target="ecs:${cluster}_${task##*/}_${runtime}"

mkdir -p build
port=15432
for database in app card; do
  endpoint="$(aws rds describe-db-instances --db-instance-identifier "platform-${stack}-${database}" \
    --query 'DBInstances[0].Endpoint.Address' --output text)"
  aws ssm start-session --target "$target" --document-name AWS-StartPortForwardingSessionToRemoteHost \
    --parameters "host=${endpoint},portNumber=5432,localPortNumber=${port}" > "build/tunnel-${database}.log" 2>&1 &
  pulumi config set --stack "$stack" --path "platform:databases.${database}.adminHost" localhost
  pulumi config set --stack "$stack" --path "platform:databases.${database}.adminPort" "$port"
  timeout 60 bash -c "until (echo > /dev/tcp/127.0.0.1/${port}) 2> /dev/null; do sleep 1; done"
  echo "platform-${stack}-${database} reachable on localhost:${port}"
  port=$((port + 1))
done
