#!/bin/sh
# The one-shot `provision` service of docker-compose.yml: waits until the AWS emulator and
# DynamoDB answer, makes sure only one emulator answers to the name "aws", then
# `appointmentctl provision`, `migrate` and `seed` (each idempotent, so `up` can run again).
set -eu
wait_s=${APPT_AWS_WAIT_SECONDS:-180}
deadline=$(($(date +%s) + wait_s))

for url in "$AWS_ENDPOINT_URL" "$AWS_ENDPOINT_URL_DYNAMODB"; do
	# any HTTP answer will do (DynamoDB says 400 to an unsigned GET): the server is up
	until curl -s -o /dev/null --max-time 2 "$url/"; do
		if [ "$(date +%s)" -ge "$deadline" ]; then
			echo "provision: $url did not answer within ${wait_s}s" >&2
			exit 1
		fi
		sleep 1
	done
done

# LocalStack (profile localstack) and the `emulators` profile both answer to "aws" and
# "dynamodb": never both.
for name in aws dynamodb; do
	n=$(getent ahostsv4 "$name" | awk '{print $1}' | sort -u | wc -l)
	if [ "$n" -gt 1 ]; then
		echo "provision: $n containers answer to '$name': run one profile (localstack or emulators), not both" >&2
		exit 1
	fi
done

appointmentctl provision --password-from-env
appointmentctl migrate
appointmentctl seed
