//! Kafka's ACL APIs (DescribeAcls 29, CreateAcls 30, DeleteAcls 31) over the native
//! permissions: there is one authorization model, and an ACL is a view of a native grant.
//!
//! The mapping (ARCHITECTURE.md, "Security"): a binding `User:<name>` on resource TOPIC, pattern
//! LITERAL, host `*`, ALLOW, is a topic flag of that native user — on the named topic (its
//! stream's entry, topic entry), or on every topic for the name `*` (the global flags).
//! Operations: READ grants `poll_messages` (and `read_topic`, which READ implies in Kafka),
//! WRITE `send_messages` (and `read_topic`), DESCRIBE `read_topic`, ALTER `manage_topic`, ALL
//! the four; read back one flag per operation (READ ↔ poll, WRITE ↔ send, DESCRIBE ↔ read,
//! ALTER ↔ manage) and deleted the same way, except that deleting READ clears `read_topic` too
//! (a native `read_topic` grants polling the topic, as on the Iggy server). What has no native counterpart is refused with
//! INVALID_REQUEST and a message naming what cannot be mapped: DENY bindings, hosts other than
//! `*`, PREFIXED patterns, the resource types GROUP, CLUSTER, TRANSACTIONAL_ID,
//! DELEGATION_TOKEN and USER, and the other operations. Changing ACLs needs `manage_users`,
//! reading them `read_users`; without, CLUSTER_AUTHORIZATION_FAILED (31). The root user's
//! grants are fixed and not listed; stream-wide grants (a stream entry's own flags) have no
//! single Kafka resource and are not listed either.

use std::sync::Arc;

use kafka_protocol::messages::create_acls_response::AclCreationResult;
use kafka_protocol::messages::delete_acls_response::{
    DeleteAclsFilterResult, DeleteAclsMatchingAcl,
};
use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DeleteAclsRequest, DeleteAclsResponse,
    DescribeAclsRequest, DescribeAclsResponse,
};
use kafka_protocol::protocol::StrBytes;

use crate::context::BrokerContext;
use crate::core::RequestContext;
use crate::core::users::permissions::{StreamPermissions, TopicPermissions};
use crate::core::users::{Access, Permissions, ROOT_ID, UserError, UserRef};
use crate::kafka::topics;

const ANY: i8 = 1;
const OP_ALL: i8 = 2;
const OP_READ: i8 = 3;
const OP_WRITE: i8 = 4;
const OP_ALTER: i8 = 7;
const OP_DESCRIBE: i8 = 8;
const RESOURCE_TOPIC: i8 = 2;
const PATTERN_MATCH: i8 = 2;
const PATTERN_LITERAL: i8 = 3;
const PERMISSION_ALLOW: i8 = 3;
const INVALID_REQUEST: i16 = 42;
const CLUSTER_AUTHORIZATION_FAILED: i16 = 31;
const PRINCIPAL_PREFIX: &str = "User:";

/// One native topic flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flag {
    Poll,
    Send,
    Read,
    Manage,
}

const FLAGS: [Flag; 4] = [Flag::Poll, Flag::Send, Flag::Read, Flag::Manage];

impl Flag {
    fn operation(self) -> i8 {
        match self {
            Self::Poll => OP_READ,
            Self::Send => OP_WRITE,
            Self::Read => OP_DESCRIBE,
            Self::Manage => OP_ALTER,
        }
    }
}

/// The flags a created binding of `operation` grants.
fn granted(operation: i8) -> Option<&'static [Flag]> {
    Some(match operation {
        OP_READ => &[Flag::Poll, Flag::Read],
        OP_WRITE => &[Flag::Send, Flag::Read],
        OP_DESCRIBE => &[Flag::Read],
        OP_ALTER => &[Flag::Manage],
        OP_ALL => &FLAGS,
        _ => return None,
    })
}

/// The flags a filter's `operation` matches.
fn matched(operation: i8) -> &'static [Flag] {
    match operation {
        OP_READ => &[Flag::Poll],
        OP_WRITE => &[Flag::Send],
        OP_DESCRIBE => &[Flag::Read],
        OP_ALTER => &[Flag::Manage],
        ANY | OP_ALL => &FLAGS,
        _ => &[],
    }
}

/// The flags deleting a binding of `flag` clears: deleting READ clears `read_topic` too, since
/// a native `read_topic` on a topic grants polling it (as on the Iggy server).
fn cleared(flag: Flag) -> &'static [Flag] {
    match flag {
        Flag::Poll => &[Flag::Poll, Flag::Read],
        Flag::Send => &[Flag::Send],
        Flag::Read => &[Flag::Read],
        Flag::Manage => &[Flag::Manage],
    }
}

/// Every topic (`*`) or one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    All,
    Topic {
        stream: u32,
        topic: u32,
        name: String,
    },
}

impl Target {
    fn name(&self) -> &str {
        match self {
            Self::All => "*",
            Self::Topic { name, .. } => name,
        }
    }
}

/// One native grant seen as an ACL binding.
#[derive(Debug, Clone)]
struct Binding {
    username: String,
    target: Target,
    flag: Flag,
}

fn flag_of_global(permissions: &Permissions, flag: Flag) -> bool {
    let global = &permissions.global;
    match flag {
        Flag::Poll => global.poll_messages,
        Flag::Send => global.send_messages,
        Flag::Read => global.read_topics,
        Flag::Manage => global.manage_topics,
    }
}

fn flag_of_topic(topic: &TopicPermissions, flag: Flag) -> bool {
    match flag {
        Flag::Poll => topic.poll_messages,
        Flag::Send => topic.send_messages,
        Flag::Read => topic.read_topic,
        Flag::Manage => topic.manage_topic,
    }
}

/// Every grant of every user but root, as bindings.
fn bindings(ctx: &BrokerContext) -> Vec<Binding> {
    let directory = ctx.core.users.directory();
    let names = topics::all_topics(ctx);
    let mut out = Vec::new();
    for user in directory.users().filter(|user| user.id != ROOT_ID) {
        let Some(permissions) = &user.permissions else {
            continue;
        };
        let mut push = |target: Target, flag| {
            out.push(Binding {
                username: user.username.clone(),
                target,
                flag,
            });
        };
        for flag in FLAGS
            .into_iter()
            .filter(|f| flag_of_global(permissions, *f))
        {
            push(Target::All, flag);
        }
        for stream in &permissions.streams {
            for topic in &stream.topics {
                let name = names
                    .iter()
                    .find(|(_, t)| t.stream_id == stream.stream_id && t.id == topic.topic_id);
                let Some((name, _)) = name else { continue };
                for flag in FLAGS.into_iter().filter(|f| flag_of_topic(topic, *f)) {
                    let target = Target::Topic {
                        stream: stream.stream_id,
                        topic: topic.topic_id,
                        name: name.clone(),
                    };
                    push(target, flag);
                }
            }
        }
    }
    out
}

/// Sets or clears `flag` on `target` in `permissions`.
fn set_flag(permissions: &mut Permissions, target: &Target, flag: Flag, on: bool) {
    let bit = match target {
        Target::All => {
            let global = &mut permissions.global;
            match flag {
                Flag::Poll => &mut global.poll_messages,
                Flag::Send => &mut global.send_messages,
                Flag::Read => &mut global.read_topics,
                Flag::Manage => &mut global.manage_topics,
            }
        }
        Target::Topic { stream, topic, .. } => {
            let streams = &mut permissions.streams;
            let at = match streams.iter().rposition(|s| s.stream_id == *stream) {
                Some(at) => at,
                None => {
                    streams.push(StreamPermissions {
                        stream_id: *stream,
                        ..StreamPermissions::default()
                    });
                    streams.len() - 1
                }
            };
            let topics = &mut streams[at].topics;
            let at = match topics.iter().rposition(|t| t.topic_id == *topic) {
                Some(at) => at,
                None => {
                    topics.push(TopicPermissions {
                        topic_id: *topic,
                        ..TopicPermissions::default()
                    });
                    topics.len() - 1
                }
            };
            let entry = &mut topics[at];
            match flag {
                Flag::Poll => &mut entry.poll_messages,
                Flag::Send => &mut entry.send_messages,
                Flag::Read => &mut entry.read_topic,
                Flag::Manage => &mut entry.manage_topic,
            }
        }
    };
    *bit = on;
}

/// A filter of DescribeAcls or DeleteAcls.
struct Filter<'a> {
    resource_type: i8,
    name: Option<&'a str>,
    pattern: i8,
    principal: Option<&'a str>,
    host: Option<&'a str>,
    operation: i8,
    permission: i8,
}

impl Filter<'_> {
    fn matches(&self, binding: &Binding) -> bool {
        let principal = format!("{PRINCIPAL_PREFIX}{}", binding.username);
        matches!(self.resource_type, ANY | RESOURCE_TOPIC)
            && matches!(self.pattern, ANY | PATTERN_MATCH | PATTERN_LITERAL)
            && matches!(self.permission, ANY | PERMISSION_ALLOW)
            && self.host.is_none_or(|host| host == "*")
            && self.principal.is_none_or(|p| p == principal)
            && self.name.is_none_or(|name| {
                name == binding.target.name()
                    || (self.pattern == PATTERN_MATCH && binding.target == Target::All)
            })
            && matched(self.operation).contains(&binding.flag)
    }
}

fn text(value: &str) -> StrBytes {
    StrBytes::from_string(value.to_string())
}

/// DescribeAcls.
pub(crate) fn describe(
    ctx: &BrokerContext,
    rc: &RequestContext,
    request: &DescribeAclsRequest,
) -> DescribeAclsResponse {
    if ctx.core.users.permits(rc, Access::ReadUsers).is_err() {
        return DescribeAclsResponse::default()
            .with_error_code(CLUSTER_AUTHORIZATION_FAILED)
            .with_error_message(Some(text("reading ACLs needs the read_users permission")));
    }
    let filter = Filter {
        resource_type: request.resource_type_filter,
        name: request.resource_name_filter.as_deref(),
        pattern: request.pattern_type_filter,
        principal: request.principal_filter.as_deref(),
        host: request.host_filter.as_deref(),
        operation: request.operation,
        permission: request.permission_type,
    };
    let mut resources: Vec<DescribeAclsResource> = Vec::new();
    for binding in bindings(ctx).iter().filter(|b| filter.matches(b)) {
        let acl = AclDescription::default()
            .with_principal(text(&format!("{PRINCIPAL_PREFIX}{}", binding.username)))
            .with_host(text("*"))
            .with_operation(binding.flag.operation())
            .with_permission_type(PERMISSION_ALLOW);
        let name = binding.target.name();
        match resources
            .iter_mut()
            .find(|r| r.resource_name.as_str() == name)
        {
            Some(resource) => resource.acls.push(acl),
            None => resources.push(
                DescribeAclsResource::default()
                    .with_resource_type(RESOURCE_TOPIC)
                    .with_resource_name(text(name))
                    .with_pattern_type(PATTERN_LITERAL)
                    .with_acls(vec![acl]),
            ),
        }
    }
    DescribeAclsResponse::default().with_resources(resources)
}

/// Why a binding cannot be written as a native grant, if it cannot.
fn unmappable(
    resource_type: i8,
    pattern: i8,
    host: &str,
    permission: i8,
    operation: i8,
) -> Option<String> {
    let reason = if resource_type != RESOURCE_TOPIC {
        format!("resource type {resource_type}: only TOPIC (2) maps onto native permissions")
    } else if pattern != PATTERN_LITERAL {
        "only LITERAL resource patterns map onto native permissions".to_string()
    } else if permission != PERMISSION_ALLOW {
        "only ALLOW: native permissions cannot deny".to_string()
    } else if host != "*" {
        "only host '*': native permissions do not depend on the client address".to_string()
    } else if granted(operation).is_none() {
        format!(
            "operation {operation}: only READ, WRITE, DESCRIBE, ALTER and ALL map onto native permissions"
        )
    } else {
        return None;
    };
    Some(format!(
        "cannot be mapped onto native permissions: {reason}"
    ))
}

/// The target a binding's resource name names: `*`, or an existing Kafka topic.
fn target_of(ctx: &BrokerContext, name: &str) -> Result<Target, String> {
    if name == "*" {
        return Ok(Target::All);
    }
    let topic = topics::find_topic(ctx, name).ok_or_else(|| {
        format!("topic {name} does not exist (native permissions name existing topics)")
    })?;
    Ok(Target::Topic {
        stream: topic.stream_id,
        topic: topic.id,
        name: name.to_string(),
    })
}

/// The user a principal `User:<name>` names.
fn username_of(principal: &str) -> Result<&str, String> {
    principal
        .strip_prefix(PRINCIPAL_PREFIX)
        .filter(|name| !name.is_empty())
        .ok_or_else(|| format!("principal {principal} is not User:<name>"))
}

/// Sets (`on`) or clears `flags` on `target` for `username`, through the core (which checks
/// that the caller may manage users and grant them).
async fn change(
    ctx: &BrokerContext,
    rc: &RequestContext,
    username: &str,
    target: &Target,
    flags: &[Flag],
    on: bool,
) -> Result<(), (i16, String)> {
    let directory = ctx.core.users.directory();
    let user = directory
        .by_name(username)
        .ok_or_else(|| (INVALID_REQUEST, format!("no user named {username}")))?;
    let mut permissions = user.permissions.clone().unwrap_or_default();
    drop(directory);
    for flag in flags {
        set_flag(&mut permissions, target, *flag, on);
    }
    let user = UserRef::Name(username.to_string());
    ctx.core
        .users
        .set_permissions(rc, user, Some(permissions))
        .await
        .map_err(|error| match error {
            crate::core::CoreError::User(UserError::Unauthorized) => (
                CLUSTER_AUTHORIZATION_FAILED,
                "changing ACLs needs manage_users and the grants themselves".to_string(),
            ),
            other => (INVALID_REQUEST, other.to_string()),
        })
}

/// CreateAcls: each creation becomes native grants, or fails on its own.
pub(crate) async fn create(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    request: CreateAclsRequest,
) -> CreateAclsResponse {
    let mut results = Vec::with_capacity(request.creations.len());
    for creation in &request.creations {
        let outcome = async {
            if let Some(reason) = unmappable(
                creation.resource_type,
                creation.resource_pattern_type,
                creation.host.as_str(),
                creation.permission_type,
                creation.operation,
            ) {
                return Err((INVALID_REQUEST, reason));
            }
            let username = username_of(&creation.principal).map_err(|e| (INVALID_REQUEST, e))?;
            let target =
                target_of(ctx, &creation.resource_name).map_err(|e| (INVALID_REQUEST, e))?;
            let flags = granted(creation.operation).unwrap_or_default();
            change(ctx, rc, username, &target, flags, true).await
        }
        .await;
        results.push(match outcome {
            Ok(()) => AclCreationResult::default(),
            Err((code, message)) => AclCreationResult::default()
                .with_error_code(code)
                .with_error_message(Some(text(&message))),
        });
    }
    CreateAclsResponse::default().with_results(results)
}

/// DeleteAcls: clears every grant each filter matches and lists them.
pub(crate) async fn delete(
    ctx: &Arc<BrokerContext>,
    rc: &RequestContext,
    request: DeleteAclsRequest,
) -> DeleteAclsResponse {
    let mut results = Vec::with_capacity(request.filters.len());
    if ctx.core.users.permits(rc, Access::ManageUsers).is_err() {
        let refused = DeleteAclsFilterResult::default()
            .with_error_code(CLUSTER_AUTHORIZATION_FAILED)
            .with_error_message(Some(text(
                "changing ACLs needs the manage_users permission",
            )));
        return DeleteAclsResponse::default()
            .with_filter_results(vec![refused; request.filters.len()]);
    }
    for raw in &request.filters {
        let filter = Filter {
            resource_type: raw.resource_type_filter,
            name: raw.resource_name_filter.as_deref(),
            pattern: raw.pattern_type_filter,
            principal: raw.principal_filter.as_deref(),
            host: raw.host_filter.as_deref(),
            operation: raw.operation,
            permission: raw.permission_type,
        };
        let mut result = DeleteAclsFilterResult::default();
        for binding in bindings(ctx).into_iter().filter(|b| filter.matches(b)) {
            let flags = cleared(binding.flag);
            let changed = change(ctx, rc, &binding.username, &binding.target, flags, false);
            let (code, message) = match changed.await {
                Ok(()) => (0, None),
                Err((code, message)) => (code, Some(text(&message))),
            };
            result.matching_acls.push(
                DeleteAclsMatchingAcl::default()
                    .with_error_code(code)
                    .with_error_message(message)
                    .with_resource_type(RESOURCE_TOPIC)
                    .with_resource_name(text(binding.target.name()))
                    .with_pattern_type(PATTERN_LITERAL)
                    .with_principal(text(&format!("{PRINCIPAL_PREFIX}{}", binding.username)))
                    .with_host(text("*"))
                    .with_operation(binding.flag.operation())
                    .with_permission_type(PERMISSION_ALLOW),
            );
        }
        results.push(result);
    }
    DeleteAclsResponse::default().with_filter_results(results)
}
