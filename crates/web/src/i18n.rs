//! The customer's pages in the customer's language: every word they show
//! comes from this table (staff pages are in English). Money and dates are
//! written by `Locale::money` / `Locale::datetime`.

use std::collections::BTreeMap;

use minijinja::Value;
use pitwall_core::domain::locale::Locale;

/// `(key, English, Spanish)`. A `{}` is filled in by [`fill`].
const WORDS: &[(&str, &str, &str)] = &[
    ("title_ticket", "Work order", "Orden de trabajo"),
    ("skip", "Skip to content", "Ir al contenido"),
    (
        "preview_note",
        "Preview: this is exactly what the customer sees. Nothing here can be sent.",
        "Vista previa: esto es exactamente lo que ve el cliente. Desde aquí no se envía nada.",
    ),
    ("preview_back", "Back to the ticket", "Volver a la orden"),
    ("hours", "Hours", "Horario"),
    (
        "stale",
        "The shop just updated this work order.",
        "El taller acaba de actualizar esta orden.",
    ),
    ("reload", "Show the changes", "Ver los cambios"),
    (
        "thanks_approved",
        "Thank you: your approval is recorded",
        "Gracias: su aprobación quedó registrada",
    ),
    (
        "thanks_declined",
        "Thank you: your answer is recorded",
        "Gracias: su respuesta quedó registrada",
    ),
    ("signed_by", "Signed by", "Firmado por"),
    ("approved_work", "Approved", "Aprobado"),
    ("declined_work", "Declined", "Rechazado"),
    ("approved_total", "Approved work", "Trabajo aprobado"),
    ("tax", "Tax", "Impuestos"),
    ("ticket_total", "Work order total", "Total de la orden"),
    ("print", "Print", "Imprimir"),
    ("work", "Services", "Servicios"),
    ("items_of", "Items of", "Detalle de"),
    ("item", "Item", "Concepto"),
    ("qty", "Qty", "Cant."),
    ("amount", "Amount", "Importe"),
    (
        "no_work",
        "No services on this work order yet.",
        "Todavía no hay servicios en esta orden.",
    ),
    ("subtotal", "Subtotal", "Subtotal"),
    ("inv_title", "Your invoice", "Su factura"),
    ("inv_sent", "Due", "Pendiente de pago"),
    ("inv_paid", "Paid", "Pagada"),
    (
        "inv_delivered",
        "Paid · vehicle picked up",
        "Pagada · vehículo entregado",
    ),
    (
        "inv_booked",
        "Paid · vehicle picked up",
        "Pagada · vehículo entregado",
    ),
    ("inv_paid_pos", "Paid at the shop", "Pagada en el taller"),
    ("inv_paid_on", "Paid on", "Pagada el"),
    ("inv_refunded", "Refunded", "Reembolsado"),
    ("inv_pay", "Pay", "Pagar"),
    (
        "inv_pay_note",
        "Secure card payment through Stripe, straight to the shop.",
        "Pago seguro con tarjeta a través de Stripe, directo al taller.",
    ),
    (
        "inv_thanks",
        "Thank you: your payment is being confirmed.",
        "Gracias: estamos confirmando su pago.",
    ),
    (
        "inv_pay_at_shop",
        "Pay at the shop when you pick up your vehicle.",
        "Pague en el taller al recoger su vehículo.",
    ),
    ("total", "Total", "Total"),
    ("approve_heading", "Approve the work", "Aprobar el trabajo"),
    (
        "approve_extension",
        "Approve the additional work",
        "Aprobar el trabajo adicional",
    ),
    (
        "extension_note",
        "The shop found more work after your last decision. What you decided before stands.",
        "El taller encontró más trabajo después de su última decisión. Lo que decidió antes sigue en pie.",
    ),
    (
        "approvals_call",
        "Call the shop to approve this work.",
        "Llame al taller para aprobar este trabajo.",
    ),
    (
        "choose",
        "Uncheck anything you do not want done",
        "Desmarque lo que no quiera que se haga",
    ),
    ("selected_work", "Selected work", "Trabajo seleccionado"),
    (
        "new_total",
        "Work order total with your choice",
        "Total de la orden con su elección",
    ),
    ("your_name", "Your full name", "Su nombre completo"),
    ("sign_here", "Sign here", "Firme aquí"),
    (
        "sign_help",
        "Draw your signature in the box with your finger or a mouse.",
        "Dibuje su firma en el recuadro con el dedo o el ratón.",
    ),
    ("clear", "Clear signature", "Borrar firma"),
    (
        "typed_signature",
        "I cannot draw: use my typed name as my signature",
        "No puedo dibujar: usar mi nombre escrito como firma",
    ),
    (
        "noscript_sign",
        "Signing needs JavaScript. You can still read everything here, or call the shop to approve.",
        "Para firmar se necesita JavaScript. Puede leer todo aquí o llamar al taller para aprobar.",
    ),
    (
        "submit_approval",
        "Sign and send my answer",
        "Firmar y enviar mi respuesta",
    ),
    ("earlier", "Earlier approvals", "Aprobaciones anteriores"),
    ("message_heading", "Write to the shop", "Escribir al taller"),
    ("message_label", "Your message", "Su mensaje"),
    ("message_send", "Send message", "Enviar mensaje"),
    (
        "expires",
        "This link works until",
        "Este enlace funciona hasta el",
    ),
    ("vehicle", "Vehicle", "Vehículo"),
    ("status", "Status", "Estado"),
    ("no_status", "Not started", "Sin comenzar"),
    ("promised", "Promised for", "Prometido para"),
    ("updated", "Updated", "Actualizado"),
    (
        "group_awaiting",
        "Waiting for your approval",
        "Esperan su aprobación",
    ),
    ("group_approved", "Approved work", "Trabajo aprobado"),
    (
        "insp_title",
        "Vehicle inspection",
        "Inspección del vehículo",
    ),
    (
        "insp_good",
        "Items in good condition",
        "Elementos en buen estado",
    ),
    (
        "insp_see_service",
        "Recommended work for this is listed below.",
        "El trabajo recomendado para esto aparece abajo.",
    ),
    ("cond_urgent", "Needs attention now", "Requiere atención ya"),
    (
        "cond_needs_attention",
        "Needs attention soon",
        "Requiere atención pronto",
    ),
    ("cond_good", "Good", "Bien"),
    ("group_declined", "Declined", "Rechazado"),
    ("st_recommended", "Recommended", "Recomendado"),
    ("st_pending", "Waiting for you", "Pendiente"),
    ("st_approved", "Approved", "Aprobado"),
    ("st_declined", "Declined", "Rechazado"),
    ("kind_estimate", "Estimate", "Presupuesto"),
    ("kind_workorder", "Work order", "Orden de trabajo"),
    ("kind_invoice", "Invoice", "Factura"),
    ("line_labor", "labor", "mano de obra"),
    ("line_part", "part", "pieza"),
    ("line_fee", "fee", "cargo"),
    (
        "sent_message",
        "Your message was sent to the shop.",
        "Su mensaje fue enviado al taller.",
    ),
    (
        "changed",
        "The shop changed this work order while you were looking at it, so nothing was approved. Please check the work and prices again and sign again.",
        "El taller cambió esta orden mientras usted la miraba, así que no se aprobó nada. Revise otra vez el trabajo y los precios y vuelva a firmar.",
    ),
    ("change_new", "New", "Nuevo"),
    (
        "change_price",
        "Price changed, was {}",
        "Precio cambiado, antes {}",
    ),
    (
        "change_removed",
        "Services you saw were removed: {}",
        "Se quitaron servicios que usted vio: {}",
    ),
    (
        "authorisation",
        "By signing I authorise {} to do the work I selected above, for the prices shown plus tax, and I agree that my typed name and signature count as my handwritten signature.",
        "Al firmar autorizo a {} a realizar el trabajo que seleccioné arriba, a los precios mostrados más impuestos, y acepto que mi nombre escrito y mi firma valen como mi firma manuscrita.",
    ),
    (
        "err_name",
        "Type your full name.",
        "Escriba su nombre completo.",
    ),
    (
        "err_signature",
        "Sign in the box (or choose to use your typed name).",
        "Firme en el recuadro (o elija usar su nombre escrito).",
    ),
    (
        "err_message",
        "Write a message of at most 2000 characters.",
        "Escriba un mensaje de hasta 2000 caracteres.",
    ),
    (
        "err_closed",
        "This work order is closed. Call the shop to change the work.",
        "Esta orden está cerrada. Llame al taller para cambiar el trabajo.",
    ),
    (
        "err_other",
        "Your answer could not be recorded: {}",
        "No se pudo registrar su respuesta: {}",
    ),
    (
        "not_found_h",
        "This link does not work",
        "Este enlace no funciona",
    ),
    (
        "not_found_t",
        "Check that the whole link from your text or e-mail was opened. If it still does not work, ask the shop for a new one.",
        "Compruebe que abrió el enlace completo de su mensaje o correo. Si sigue sin funcionar, pida uno nuevo al taller.",
    ),
    (
        "gone_h",
        "This link no longer works",
        "Este enlace ya no funciona",
    ),
    (
        "gone_expired",
        "The link has expired. Ask {} for a new one.",
        "El enlace caducó. Pida uno nuevo a {}.",
    ),
    (
        "gone_revoked",
        "The shop replaced or withdrew this link. Ask {} for a new one.",
        "El taller reemplazó o retiró este enlace. Pida uno nuevo a {}.",
    ),
    (
        "gone_other",
        "The link is no longer available. Call {}.",
        "El enlace ya no está disponible. Llame a {}.",
    ),
    (
        "rate_h",
        "Please wait a minute",
        "Espere un minuto, por favor",
    ),
    (
        "rate_t",
        "Too many links were opened from your connection. Wait a minute and try again.",
        "Se abrieron demasiados enlaces desde su conexión. Espere un minuto y vuelva a intentarlo.",
    ),
    ("error_h", "Something went wrong", "Algo salió mal"),
    (
        "error_t",
        "Please try again in a minute.",
        "Vuelva a intentarlo en un minuto.",
    ),
    ("call", "Call the shop:", "Llame al taller:"),
];

/// One word or sentence in `locale`.
pub(crate) fn word(locale: Locale, key: &str) -> &'static str {
    WORDS
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or("", |(_, en, es)| match locale {
            Locale::Es => es,
            _ => en,
        })
}

/// A sentence with its `{}` filled in.
pub(crate) fn fill(locale: Locale, key: &str, value: &str) -> String {
    word(locale, key).replacen("{}", value, 1)
}

/// Every word, for templates (`{{ t.total }}`).
pub(crate) fn table(locale: Locale) -> Value {
    let map: BTreeMap<&str, &str> = WORDS
        .iter()
        .map(|(k, _, _)| (*k, word(locale, k)))
        .collect();
    Value::from(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_has_both_languages_and_keys_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for (k, en, es) in WORDS {
            assert!(seen.insert(*k), "{k} twice");
            assert!(!en.is_empty() && !es.is_empty(), "{k}");
            assert_eq!(en.matches("{}").count(), es.matches("{}").count(), "{k}");
        }
        assert_eq!(
            fill(Locale::Es, "change_price", "5"),
            "Precio cambiado, antes 5"
        );
    }
}
