"""confluent-kafka's AdminClient ACL calls. Usage:
acl_admin.py HOST:PORT CONFIG_JSON create PRINCIPAL RESOURCE_TYPE NAME OPERATION PERMISSION
acl_admin.py HOST:PORT CONFIG_JSON describe
acl_admin.py HOST:PORT CONFIG_JSON delete PRINCIPAL NAME OPERATION
acl_admin.py HOST:PORT CONFIG_JSON operations TOPIC

Prints `OK`, or `ERR <error name>: <message>`, or for describe one `BINDING principal
resource_type name operation permission` line per ACL, for operations the authorized operations
(KIP-430) as `TOPIC_OPS op,op,...` and `CLUSTER_OPS op,op,...` (sorted); always exits 0 unless the client itself
breaks (the test judges the output)."""

import json
import sys

from common import report_kafka_error
from confluent_kafka import KafkaException, TopicCollection
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
)


def main():
    bootstrap, config, action = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    admin = AdminClient({"bootstrap.servers": bootstrap, **config})
    try:
        if action == "create":
            principal, rtype, name, op, perm = sys.argv[4:9]
            binding = AclBinding(ResourceType[rtype], name, ResourcePatternType.LITERAL,
                                 principal, "*", AclOperation[op], AclPermissionType[perm])
            for future in admin.create_acls([binding], request_timeout=15).values():
                future.result()
            print("OK")
        elif action == "describe":
            acl_filter = AclBindingFilter(ResourceType.ANY, None, ResourcePatternType.ANY,
                                          None, None, AclOperation.ANY, AclPermissionType.ANY)
            for b in admin.describe_acls(acl_filter, request_timeout=15).result():
                print(f"BINDING {b.principal} {b.restype.name} {b.name} {b.operation.name} "
                      f"{b.permission_type.name}")
            print("OK")
        elif action == "delete":
            principal, name, op = sys.argv[4:7]
            acl_filter = AclBindingFilter(ResourceType.TOPIC, name, ResourcePatternType.ANY,
                                          principal, None, AclOperation[op], AclPermissionType.ANY)
            for future in admin.delete_acls([acl_filter], request_timeout=15).values():
                deleted = future.result()
                print(f"DELETED {len(deleted)}")
            print("OK")
        elif action == "operations":
            topics = admin.describe_topics(TopicCollection([sys.argv[4]]),
                                           include_authorized_operations=True,
                                           request_timeout=15)
            for future in topics.values():
                ops = future.result().authorized_operations or []
                print("TOPIC_OPS " + ",".join(sorted(op.name for op in ops)))
            cluster = admin.describe_cluster(include_authorized_operations=True,
                                             request_timeout=15).result()
            ops = cluster.authorized_operations or []
            print("CLUSTER_OPS " + ",".join(sorted(op.name for op in ops)))
            print("OK")
    except KafkaException as error:
        report_kafka_error(error)


if __name__ == "__main__":
    main()
