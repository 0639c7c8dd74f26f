//! The shop's pages (maud escapes everything interpolated). Every page carries the tracker
//! snippet exactly as a site owner pastes it.

use crate::ShopConfig;
use maud::{html, Markup, PreEscaped, DOCTYPE};

pub struct Product {
    pub id: u32,
    pub name: &'static str,
    pub price: &'static str,
}

pub const PRODUCTS: [Product; 3] = [
    Product {
        id: 1,
        name: "Kubek ceramiczny",
        price: "39 zł",
    },
    Product {
        id: 2,
        name: "Herbata liściasta",
        price: "24 zł",
    },
    Product {
        id: 3,
        name: "Czajnik stalowy",
        price: "129 zł",
    },
];

/// The snippet from the README, with this shop's site key and the resolver's URL.
fn snippet(config: &ShopConfig) -> Markup {
    let site_key = serde_json::to_string(&config.site_key).unwrap_or_default();
    let source = format!("{}/ssrm.js", config.resolver.trim_end_matches('/'));
    html! {
        script { (PreEscaped(format!("window._ssrm = window._ssrm || [];\n_ssrm.push(['setSite', {site_key}]);"))) }
        script async src=(source) {}
    }
}

fn layout(config: &ShopConfig, title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="pl" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Sklep demo" }
                link rel="stylesheet" href="/shop.css";
                (snippet(config))
            }
            body {
                header {
                    a.brand href="/" { "Herbaciarnia" }
                    nav { a href="/" { "Produkty" } a href="/signup" { "Załóż konto" } a href="/login" { "Zaloguj" } }
                }
                main { (body) }
                footer { "Sklep demonstracyjny ssrm. Odwiedzający są rozpoznawani przez ciasteczko ssrm_user." }
            }
        }
    }
}

pub fn home(config: &ShopConfig) -> Markup {
    layout(
        config,
        "Produkty",
        html! {
            h1 { "Produkty" }
            ul.products {
                @for product in &PRODUCTS {
                    li { a href={ "/product/" (product.id) } { (product.name) } span.price { (product.price) } }
                }
            }
        },
    )
}

pub fn product(config: &ShopConfig, product: &Product) -> Markup {
    let event = format!(
        "document.getElementById('add').addEventListener('click', function () {{ _ssrm.push(['trackEvent', 'add_to_cart', {{product: {}}}]); this.textContent = 'W koszyku'; }});",
        product.id
    );
    layout(
        config,
        product.name,
        html! {
            h1 { (product.name) }
            p.price { (product.price) }
            button #add type="button" { "Dodaj do koszyka" }
            script { (PreEscaped(event)) }
        },
    )
}

pub fn signup(config: &ShopConfig, outcome: Option<Result<u64, String>>) -> Markup {
    layout(
        config,
        "Załóż konto",
        html! {
            h1 { "Załóż konto" }
            @match outcome {
                Some(Ok(id)) => p #signup-result.ok data-contact=(id) { "Dziękujemy! Konto założone (kontakt " (id) ")." },
                Some(Err(message)) => p #signup-result.error { "Nie udało się: " (message) },
                None => {},
            }
            form method="post" action="/signup" {
                label { "Imię" input name="first_name" required; }
                label { "E-mail" input name="email" type="email" required; }
                label { "Telefon" input name="phone" type="tel" required; }
                button type="submit" { "Załóż konto" }
            }
        },
    )
}

pub fn login(config: &ShopConfig) -> Markup {
    let script =
        "document.getElementById('login-form').addEventListener('submit', function (event) {\n\
        event.preventDefault();\n\
        var value = document.getElementById('login').value;\n\
        _ssrm.push(['trackUser', value, function () {\n\
          var result = document.getElementById('login-result');\n\
          result.textContent = JSON.stringify(this);\n\
          result.setAttribute('data-success', String(this.success));\n\
        }]);\n\
      });";
    layout(
        config,
        "Zaloguj",
        html! {
            h1 { "Zaloguj się" }
            p { "Podaj e-mail lub telefon z rejestracji: na nowym urządzeniu sklep rozpozna Cię po nim." }
            form #login-form {
                label { "E-mail lub telefon" input #login name="login" required; }
                label { "Hasło" input name="password" type="password"; }
                button type="submit" { "Zaloguj" }
            }
            pre #login-result {}
            script { (PreEscaped(script)) }
        },
    )
}

pub fn spa(config: &ShopConfig) -> Markup {
    let script = "document.querySelectorAll('[data-step]').forEach(function (link) {\n\
        link.addEventListener('click', function (event) {\n\
          event.preventDefault();\n\
          document.title = 'Krok ' + link.getAttribute('data-step');\n\
          history.pushState({}, '', link.getAttribute('href'));\n\
        });\n\
      });";
    layout(
        config,
        "Aplikacja",
        html! {
            h1 { "Aplikacja jednostronicowa" }
            p { "Linki zmieniają adres przez history.pushState, bez przeładowania strony." }
            a href="/spa/krok-2" data-step="2" { "Krok 2" } " "
            a href="/spa/krok-3" data-step="3" { "Krok 3" }
            script { (PreEscaped(script)) }
        },
    )
}
