//! Native command family `messages` (being implemented).

use std::sync::Arc;

use whippet_wire::native::status::Status;

use super::call::{Call, Conn, Outcome};
use crate::context::BrokerContext;

pub(crate) async fn handle(
    _ctx: &Arc<BrokerContext>,
    _conn: &mut Conn,
    _call: Call<'_>,
) -> Outcome {
    Err(Status::FeatureUnavailable)
}
