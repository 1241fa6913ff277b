//! Batched look-ups for fields that lists would otherwise query row by row.

use projections::view::ClaimantView;
use projections::ReadDb;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Claimant read models by (tenant, id).
pub struct ClaimantLoader {
    pub(crate) read: ReadDb,
}

impl async_graphql::dataloader::Loader<(String, Uuid)> for ClaimantLoader {
    type Value = ClaimantView;
    type Error = Arc<projections::ReadError>;

    async fn load(
        &self,
        keys: &[(String, Uuid)],
    ) -> Result<HashMap<(String, Uuid), ClaimantView>, Self::Error> {
        let mut by_tenant: HashMap<&str, Vec<Uuid>> = HashMap::new();
        for (tenant, id) in keys {
            by_tenant.entry(tenant.as_str()).or_default().push(*id);
        }
        let mut found = HashMap::new();
        for (tenant, ids) in by_tenant {
            let Ok(tenant_id) = domain::TenantId::parse(tenant) else {
                continue;
            };
            for view in self
                .read
                .claimants(&tenant_id, &ids)
                .await
                .map_err(Arc::new)?
            {
                found.insert((tenant.to_owned(), view.claimant_id), view);
            }
        }
        Ok(found)
    }
}
