//! The demo storefront's built-in catalogue, and the cart kept in session data.

use serde::{Deserialize, Serialize};

/// A product of the demo catalogue. Prices are in cents internally and in
/// currency units (two decimals) on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Product {
    /// Id, e.g. `p-1`.
    pub id: &'static str,
    /// Name.
    pub name: &'static str,
    /// Price, cents.
    pub price_cents: i64,
}

/// The catalogue.
pub const PRODUCTS: &[Product] = &[
    Product {
        id: "p-1",
        name: "Trail running shoes",
        price_cents: 12_999,
    },
    Product {
        id: "p-2",
        name: "Merino wool socks",
        price_cents: 1_499,
    },
    Product {
        id: "p-3",
        name: "Waterproof jacket",
        price_cents: 18_950,
    },
    Product {
        id: "p-4",
        name: "Insulated water bottle",
        price_cents: 2_995,
    },
    Product {
        id: "p-5",
        name: "Headlamp",
        price_cents: 3_450,
    },
    Product {
        id: "p-6",
        name: "Daypack, 24 litres",
        price_cents: 7_900,
    },
];

/// The product with this id.
pub fn product(id: &str) -> Option<&'static Product> {
    PRODUCTS.iter().find(|p| p.id == id)
}

/// Cents as currency units.
pub fn units(cents: i64) -> f64 {
    cents as f64 / 100.0
}

/// The cart as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CartView {
    /// Its lines.
    pub items: Vec<CartLineView>,
    /// Sum of the lines, in currency units.
    pub total: f64,
}

/// One line of the cart.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CartLineView {
    /// The product.
    pub product_id: String,
    /// Its name (null: no longer in the catalogue).
    pub name: Option<&'static str>,
    /// Its unit price, in currency units.
    pub price: Option<f64>,
    /// How many.
    pub quantity: u32,
}

/// A product as the API shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ProductView {
    id: &'static str,
    name: &'static str,
    price: f64,
}

impl From<&Product> for ProductView {
    fn from(p: &Product) -> Self {
        Self {
            id: p.id,
            name: p.name,
            price: units(p.price_cents),
        }
    }
}

/// Most units of one product in a cart or an order line.
pub const MAX_QUANTITY: u32 = 100;

/// Most lines in a cart or an order.
pub const MAX_LINES: usize = 50;

/// The cart, kept in the session's data under `cart`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cart {
    /// Lines, in the order they were first added.
    pub items: Vec<CartLine>,
}

/// One line of the cart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CartLine {
    /// The product.
    pub product_id: String,
    /// How many.
    pub quantity: u32,
}

impl Cart {
    /// Adds `quantity` of `product_id`; refuses past the limits.
    pub fn add(mut self, product_id: &str, quantity: u32) -> Result<Self, String> {
        match self.items.iter_mut().find(|l| l.product_id == product_id) {
            Some(line) => {
                let q = line.quantity.saturating_add(quantity);
                if q > MAX_QUANTITY {
                    return Err(format!("At most {MAX_QUANTITY} of one product per cart"));
                }
                line.quantity = q;
            }
            None => {
                if self.items.len() >= MAX_LINES {
                    return Err(format!("At most {MAX_LINES} products per cart"));
                }
                self.items.push(CartLine {
                    product_id: product_id.to_owned(),
                    quantity,
                });
            }
        }
        Ok(self)
    }

    /// This cart with `other`'s lines added: quantities of the same product
    /// are summed (up to the per-product limit), new products are appended
    /// (up to the line limit); lines that do not fit are left out.
    pub fn merged_with(mut self, other: &Cart) -> Self {
        for line in &other.items {
            if let Some(mine) = self.items.iter_mut().find(|l| l.product_id == line.product_id) {
                mine.quantity = mine.quantity.saturating_add(line.quantity).min(MAX_QUANTITY);
            } else if self.items.len() < MAX_LINES {
                self.items.push(line.clone());
            }
        }
        self
    }

    /// Total, cents (lines of unknown products count nothing).
    pub fn total_cents(&self) -> i64 {
        self.items
            .iter()
            .filter_map(|l| product(&l.product_id).map(|p| p.price_cents * i64::from(l.quantity)))
            .sum()
    }

    /// The cart as the API shows it.
    pub fn view(&self) -> CartView {
        let items = self
            .items
            .iter()
            .map(|l| {
                let p = product(&l.product_id);
                CartLineView {
                    product_id: l.product_id.clone(),
                    name: p.map(|p| p.name),
                    price: p.map(|p| units(p.price_cents)),
                    quantity: l.quantity,
                }
            })
            .collect();
        CartView {
            items,
            total: units(self.total_cents()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cart_adds_merges_and_totals() {
        let cart = Cart::default()
            .add("p-1", 2)
            .unwrap()
            .add("p-2", 1)
            .unwrap()
            .add("p-1", 1)
            .unwrap();
        assert_eq!(cart.items.len(), 2);
        assert_eq!(cart.items[0].quantity, 3);
        assert_eq!(cart.total_cents(), 3 * 12_999 + 1_499);
        assert!(cart.clone().add("p-1", MAX_QUANTITY).is_err());
    }

    #[test]
    fn carts_merge_by_product_within_the_limits() {
        let mine = Cart::default().add("p-1", 1).unwrap().add("p-2", 1).unwrap();
        let other = Cart::default().add("p-1", 2).unwrap().add("p-3", 4).unwrap();
        let merged = mine.merged_with(&other);
        let q: Vec<_> = merged
            .items
            .iter()
            .map(|l| (l.product_id.as_str(), l.quantity))
            .collect();
        assert_eq!(q, [("p-1", 3), ("p-2", 1), ("p-3", 4)]);
        let full = Cart::default().add("p-1", MAX_QUANTITY).unwrap();
        assert_eq!(full.clone().merged_with(&full).items[0].quantity, MAX_QUANTITY);
    }
}
