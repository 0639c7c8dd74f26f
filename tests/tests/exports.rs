//! The admin pages' CSV downloads and campaign records: `/contacts.csv` with the contact
//! list's filters, `/campaigns/{id}/records.csv` with the status filter, over real HTTP with a
//! signed-in session; read back with the `csv` crate. Also the campaign page's records list
//! and the card's campaigns.

use resolver_server::domain::{self, ContactId, ContactInput};
use ssrm_tests::admin_session::{page_html, signed_in};
use ssrm_tests::{spawn_app, TestAccount, TestApp};

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// `count` contacts in a new group; the first is named with a comma, quotes and Polish letters.
fn contacts(app: &TestApp, account: &TestAccount, count: usize) -> Vec<ContactId> {
    let items: Vec<ContactInput> = (0..count)
        .map(|n| ContactInput {
            phone: Some(format!("5{:08}", n)),
            first_name: Some(if n == 0 {
                "Łucja, \"Ola\"".to_owned()
            } else {
                format!("Klient {n}")
            }),
            ..ContactInput::default()
        })
        .collect();
    app.import(account, "Eksport", &items)
}

/// Downloads a CSV: checks the headers and the byte-order mark, answers the rows (header first).
async fn download(client: &reqwest::Client, url: String) -> Vec<csv::StringRecord> {
    let response = client.get(url).send().await.expect("download");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let body = response.bytes().await.expect("body");
    assert!(body.starts_with(BOM), "UTF-8 with a byte-order mark");
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&body[BOM.len()..])
        .records()
        .map(|row| row.expect("a CSV row"))
        .collect()
}

#[tokio::test]
async fn the_contacts_list_downloads_as_csv_with_its_filters_across_many_pages() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let ids = contacts(&app, &shop, 1_203);
    let other = app.account("other");
    contacts(&app, &other, 3);
    let admin = signed_in(&app, &shop).await;

    let rows = download(&admin, app.url("contacts.csv")).await;
    assert_eq!(&rows[0][0], "id");
    assert_eq!(&rows[0][1], "phone");
    assert_eq!(rows.len(), 1 + 1_203, "every contact of the account, once");
    let mut listed: Vec<u64> = rows[1..]
        .iter()
        .map(|r| r[0].parse().expect("id"))
        .collect();
    listed.sort_unstable();
    listed.dedup();
    assert_eq!(listed.len(), 1_203);
    let first = rows
        .iter()
        .find(|row| row[0] == ids[0].to_string())
        .expect("the first contact");
    assert_eq!(&first[1], "+48500000000");
    assert_eq!(&first[3], "Łucja, \"Ola\"", "quoted, Polish letters intact");
    assert_eq!(&first[11], "Eksport");

    let found = download(&admin, app.url("contacts.csv?q=%C5%81ucja")).await;
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(&found[1][0], ids[0].to_string().as_str());

    let anonymous = app
        .client
        .get(app.url("contacts.csv"))
        .send()
        .await
        .expect("request");
    assert!(
        anonymous.url().path().ends_with("/login") || anonymous.status() == 303,
        "signed-in operators only"
    );
}

#[tokio::test]
async fn a_campaigns_records_are_listed_filtered_and_downloaded_and_the_card_names_the_campaign() {
    let app = spawn_app().await;
    let shop = app.account("shop");
    let ids = contacts(&app, &shop, 60);
    let campaign = domain::add_campaign(&app.store, shop.id(), "Oddzwonienia").expect("campaign");
    let records: Vec<domain::RecordInput> = ids
        .iter()
        .enumerate()
        .map(|(n, id)| domain::RecordInput {
            customer: *id,
            status_id: Some(if n < 52 { 3 } else { 1 }),
            dictionary_status_id: None,
            agent_login: None,
            next_call_date: None,
            order: Some(n as i64),
        })
        .collect();
    domain::add_records(&app.store, shop.id(), &campaign.id, &records).expect("records");
    let admin = signed_in(&app, &shop).await;

    let path = |query: &str| format!("campaigns/{}{query}", campaign.id);
    let all = page_html(&admin, &app, &path("")).await;
    assert_eq!(
        all.matches("<tr class=\"record\"").count(),
        50,
        "one page of 50"
    );
    assert!(all.contains("Strona 1 z 2"), "paged");
    let calls = page_html(&admin, &app, &path("?status_id=3&page=2")).await;
    assert_eq!(
        calls.matches("<tr class=\"record\"").count(),
        2,
        "52 in status 3"
    );
    let new = page_html(&admin, &app, &path("?status_id=1")).await;
    assert_eq!(new.matches("<tr class=\"record\"").count(), 8);
    assert!(new.contains(&format!("/card?id={}&amp;typecont=contact", ids[59])));

    let rows = download(
        &admin,
        app.url(&format!(
            "campaigns/{}/records.csv?status_id=1",
            campaign.id
        )),
    )
    .await;
    assert_eq!(&rows[0][0], "record_id");
    assert_eq!(rows.len(), 1 + 8);
    assert!(rows[1..].iter().all(|row| &row[6] == "TO_CALL"));
    assert_eq!(&rows[8][1], ids[59].to_string().as_str());

    let card = admin
        .get(app.url(&format!("card?id={}&typecont=contact", ids[0])))
        .send()
        .await
        .expect("card")
        .text()
        .await
        .expect("html");
    assert!(
        card.contains(&format!("href=\"/campaigns/{}\"", campaign.id))
            && card.contains("Do zadzwonienia"),
        "the card lists the campaign with the status"
    );
}
