//! The starting point of the domain's unit tests: a fresh temporary store with one account and
//! one contact in it. Test code only; nothing here runs in the server.

use crate::domain::{add_contact, create_account, Contact, ContactInput, Principal};
use crate::store::Store;

/// A temporary store with the account `shop` and its contact of phone `500600700`, added by
/// `username` (`None`: an API call without a user). Panics if any of it cannot be created.
pub(crate) fn shop_with_contact(username: Option<&str>) -> (Store, Principal, Contact) {
    let store = Store::open_temporary().expect("store");
    let account = create_account(&store, "shop", None).expect("account").id;
    let principal = Principal {
        account,
        username: username.map(str::to_owned),
    };
    let contact = add_contact(
        &store,
        &principal,
        &ContactInput {
            phone: Some("500600700".into()),
            ..Default::default()
        },
    )
    .expect("contact");
    (store, principal, contact)
}
