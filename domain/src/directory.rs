//! The synced directory as the Directory pages browse it: people, groups and who is in which.
//! Read only; directory synchronization ([`crate::sync`]) is what changes it.

use crate::store::{DirectoryGroupView, DirectoryPage, DirectoryQuery, DirectoryUserView, Store, StoreError};

#[derive(Clone, Debug)]
pub struct DirectoryService {
    store: Store,
}

impl DirectoryService {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn users(&self, q: &DirectoryQuery) -> Result<DirectoryPage<DirectoryUserView>, StoreError> {
        self.store.directory_users(q).await
    }

    pub async fn groups(&self, q: &DirectoryQuery) -> Result<DirectoryPage<DirectoryGroupView>, StoreError> {
        self.store.directory_groups(q).await
    }

    /// A person and the groups they are in; `None` when no such person is synced.
    pub async fn user(&self, id: &str) -> Result<Option<(DirectoryUserView, Vec<DirectoryGroupView>)>, StoreError> {
        let Some(user) = self.store.directory_user(id).await? else {
            return Ok(None);
        };
        Ok(Some((user, self.store.directory_user_groups(id).await?)))
    }

    /// A group and one page of its members; `None` when no such group is synced.
    pub async fn group(
        &self,
        id: &str,
        members: &DirectoryQuery,
    ) -> Result<Option<(DirectoryGroupView, DirectoryPage<DirectoryUserView>)>, StoreError> {
        let Some(group) = self.store.directory_group(id).await? else {
            return Ok(None);
        };
        Ok(Some((group, self.store.directory_group_members(id, members).await?)))
    }
}
