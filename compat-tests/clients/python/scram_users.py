"""confluent-kafka's AdminClient SCRAM user calls (KIP-554). Usage:
scram_users.py HOST:PORT CONFIG_JSON upsert USER MECHANISM PASSWORD [ITERATIONS]
scram_users.py HOST:PORT CONFIG_JSON delete USER MECHANISM
scram_users.py HOST:PORT CONFIG_JSON describe [USER ...]

MECHANISM is SCRAM-SHA-256 or SCRAM-SHA-512. Prints `OK`, or `ERR <error name>: <message>`,
and for describe one `USER name MECHANISM iterations` line per credential (or
`USER name ERR <error name>`); exits 0 unless the client itself breaks (the test judges the
output)."""

import json
import sys

from common import report_kafka_error
from confluent_kafka import KafkaException
from confluent_kafka.admin import (
    AdminClient,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

TIMEOUT_S = 15


def mechanism(name):
    return ScramMechanism[name.replace("-", "_")]


def main():
    bootstrap, config, action = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    admin = AdminClient({"bootstrap.servers": bootstrap, **config})
    try:
        if action == "upsert":
            user, mech, password = sys.argv[4:7]
            iterations = int(sys.argv[7]) if len(sys.argv) > 7 else 8192
            info = ScramCredentialInfo(mechanism(mech), iterations)
            change = UserScramCredentialUpsertion(user, info, password.encode())
            for future in admin.alter_user_scram_credentials([change],
                                                             request_timeout=TIMEOUT_S).values():
                future.result()
            print("OK")
        elif action == "delete":
            user, mech = sys.argv[4:6]
            change = UserScramCredentialDeletion(user, mechanism(mech))
            for future in admin.alter_user_scram_credentials([change],
                                                             request_timeout=TIMEOUT_S).values():
                future.result()
            print("OK")
        elif action == "describe":
            users = sys.argv[4:] or None
            described = admin.describe_user_scram_credentials(users, request_timeout=TIMEOUT_S)
            if users is None:
                for name, description in sorted(described.result().items()):
                    for info in description.scram_credential_infos:
                        print(f"USER {name} {info.mechanism.name} {info.iterations}")
            else:
                for name, future in described.items():
                    try:
                        for info in future.result().scram_credential_infos:
                            print(f"USER {name} {info.mechanism.name} {info.iterations}")
                    except KafkaException as error:
                        kafka_error = error.args[0]
                        print(f"USER {name} ERR {kafka_error.name()}")
            print("OK")
    except KafkaException as error:
        report_kafka_error(error)


if __name__ == "__main__":
    main()
