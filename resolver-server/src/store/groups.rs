//! Groups and their member counts.

use super::*;

impl Store {
    pub fn group(&self, account: AccountId, id: GroupId) -> Result<Option<Group>, StoreError> {
        self.get(keys::group(account, id))
    }

    pub fn groups(&self, account: AccountId) -> Result<Vec<Group>, StoreError> {
        self.list(keys::groups(account))
    }

    pub fn insert_group(&self, account: AccountId, group: &Group) -> DomainResult<()> {
        let _guard = self.write_guard();
        self.data
            .insert(keys::group(account, group.id), encode(group))
            .map_err(StoreError::from)?;
        Ok(())
    }

    pub fn rename_group(&self, account: AccountId, id: GroupId, name: &str) -> DomainResult<Group> {
        self.change_record(
            keys::group(account, id),
            Entity::Group,
            |group: &mut Group| {
                name.clone_into(&mut group.name);
            },
        )
    }

    /// Deletes groups, all or none (one unknown id fails the call). Their contacts leave the
    /// groups, or are deleted too when `delete_contacts` is set.
    pub fn delete_groups(
        &self,
        account: AccountId,
        ids: &[GroupId],
        delete_contacts: bool,
        audit: &dyn Fn(ContactId) -> AuditEntry,
    ) -> DomainResult<()> {
        for _ in 0..MAX_RETRIES {
            // Members are read first because sled transactions cannot scan; the transaction
            // checks each group's member count against what was read and starts over if a
            // concurrent write changed the membership in between.
            let mut members = Vec::with_capacity(ids.len());
            for id in ids {
                members.push(
                    self.group_member_ids(account, *id)
                        .collect::<Result<Vec<_>, _>>()?,
                );
            }
            let contact_ids: Vec<ContactId> = members.iter().flatten().copied().collect();
            let plan = if delete_contacts {
                self.plan_erasure(account, &contact_ids)?
            } else {
                privacy::Erasure::default()
            };
            let at = crate::domain::now_millis();
            let outcome = self.outbox_transaction(|data, outbox| {
                for (id, members) in ids.iter().zip(&members) {
                    let Some(bytes) = data.get(keys::group(account, *id))? else {
                        return fail(DomainError::NotFound(Entity::Group));
                    };
                    let group: Group = decode_tx(&bytes)?;
                    if group.count != members.len() as u64 {
                        return fail(DomainError::Store(StoreError::Busy));
                    }
                }
                for (id, members) in ids.iter().zip(&members) {
                    for contact_id in members {
                        let Some(bytes) = data.get(keys::contact(account, *contact_id))? else {
                            continue; // deleted above as a member of an earlier group
                        };
                        let contact: Contact = decode_tx(&bytes)?;
                        if delete_contacts {
                            tx_remove_contact(data, account, &contact)?;
                            privacy::tx_audit(data, account, &audit(contact.id))?;
                        } else {
                            let mut changed = contact.clone();
                            changed.groups.retain(|group| group != id);
                            tx_put_contact(data, account, Some(&contact), changed)?;
                        }
                    }
                    data.remove(keys::group(account, *id))?;
                }
                privacy::tx_erase(data, outbox, account, &plan)
            });
            match outcome {
                Err(DomainError::Store(StoreError::Busy)) => continue,
                Err(error) => return Err(error),
                Ok(()) => {
                    let suids: Vec<Suid> = plan.suids().collect();
                    self.sweep_erased(account, &suids, at)?;
                    return Ok(());
                }
            }
        }
        Err(DomainError::Store(StoreError::Busy))
    }
}

pub(super) fn tx_adjust_group_count(
    data: &TransactionalTree,
    account: AccountId,
    group: GroupId,
    delta: i64,
) -> Tx<()> {
    let key = keys::group(account, group);
    if let Some(bytes) = data.get(&key)? {
        let mut record: Group = decode_tx(&bytes)?;
        record.count = record.count.saturating_add_signed(delta);
        data.insert(key, encode(&record))?;
    }
    Ok(())
}
