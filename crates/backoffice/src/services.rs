//! The handlers of 证明打印 (`me/certificates`, `documents/verify`) and 快办 (`me/quick-items`): a resident's session first, then the store.

use axum::Json;
use axum::extract::{Path as AxPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

use crate::api::limits::codes;
use crate::api::*;
use crate::data::{self, QuickItemDef};
use crate::identity::IdNumber;
use crate::store::QuickFiling;
use crate::{ApiFailure, ApiResult, AppState, Body, TerminalId, documents, session_resident};

pub(crate) async fn my_certificate(
    State(state): State<Arc<AppState>>,
    axum::Extension(TerminalId(term)): axum::Extension<TerminalId>,
    headers: HeaderMap,
    Body(req): Body<CertificateRequest>,
) -> ApiResult<Certificate> {
    let id = session_resident(&state, &headers, term).await?;
    if !CERTIFICATE_PERIODS.contains(&req.months) {
        return Err(ApiFailure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::PERIOD_NOT_OFFERED,
            format!(
                "可打印近12、24或36个月的记录，不能打印{}个月 / Periods offered: 12, 24 or 36 months, not {}",
                req.months, req.months
            ),
        ));
    }
    let signer = state.clone();
    let now = chrono::Utc::now();
    let certificate = state
        .with_store(move |s, today| {
            s.issue_certificate(&id, &req, today, now, |doc| {
                documents::sign(doc, &signer.key)
            })
        })
        .await?;
    log::info!(
        "certificate {} ({}, {} months) issued for {}",
        certificate.case_no,
        certificate.kind.name(),
        certificate.rows.len(),
        certificate.holder_masked_id
    );
    Ok(Json(certificate))
}

pub(crate) async fn verify_document(
    State(state): State<Arc<AppState>>,
    AxPath(code): AxPath<String>,
) -> ApiResult<DocumentCheck> {
    let Ok(document_id) = documents::verify(&code, &state.key.verifying_key()) else {
        return Err(ApiFailure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::DOCUMENT_TAMPERED,
            "验证码无效：此证明可能被改动过 / This verification code does not hold: the document may have been altered",
        ));
    };
    let found = state
        .with_store(move |s, _| s.document(&document_id))
        .await?;
    match found {
        Some(certificate) => Ok(Json(DocumentCheck {
            status: "valid".into(),
            certificate,
        })),
        None => Err(ApiFailure::new(
            StatusCode::NOT_FOUND,
            codes::DOCUMENT_NOT_FOUND,
            "没有此证明的记录 / No such document on record",
        )),
    }
}

impl AppState {
    fn quick_items(&self) -> Arc<Vec<QuickItemDef>> {
        self.quick_items
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

/// What the back office fills in for `key` (one of [`data::PREFILL_KEYS`]).
fn prefilled(key: &str, id: &IdNumber, masked_name: &str) -> Option<Prefilled> {
    let (label, label_en, shown) = match key {
        "name" => ("姓名", "Name", masked_name.to_string()),
        "id_number" => ("身份证号码", "ID number", id.masked()),
        "address" => (
            "居住地址",
            "Home address",
            data::mask_address(&data::demo_address(id)),
        ),
        "hukou" => (
            "户籍所在地",
            "Household registration",
            if id.expose_id_number().starts_with("310105") {
                "上海市长宁区".to_string()
            } else {
                "上海市".to_string()
            },
        ),
        _ => return None,
    };
    Some(Prefilled {
        key: key.into(),
        label: label.into(),
        label_en: label_en.into(),
        shown,
    })
}

pub(crate) async fn quick_forms(
    State(state): State<Arc<AppState>>,
    axum::Extension(TerminalId(term)): axum::Extension<TerminalId>,
    headers: HeaderMap,
) -> ApiResult<Vec<QuickForm>> {
    let id = session_resident(&state, &headers, term).await?;
    let who = id.clone();
    let masked_name = state.with_store(move |s, _| s.masked_name(&who)).await?;
    let today = state.today();
    let forms = state
        .quick_items()
        .iter()
        .map(|def| QuickForm {
            prefilled: def
                .item
                .prefills
                .iter()
                .filter_map(|k| prefilled(k, &id, &masked_name))
                .collect(),
            not_eligible: def.not_eligible(&id, today),
            not_eligible_en: def.not_eligible_en(&id, today),
            item: def.item.clone(),
        })
        .collect();
    Ok(Json(forms))
}

pub(crate) async fn submit_quick(
    State(state): State<Arc<AppState>>,
    axum::Extension(TerminalId(term)): axum::Extension<TerminalId>,
    AxPath(item_id): AxPath<String>,
    headers: HeaderMap,
    Body(sub): Body<QuickSubmission>,
) -> Result<Response, ApiFailure> {
    let id = session_resident(&state, &headers, term).await?;
    let items = state.quick_items();
    let Some(def) = items.iter().find(|d| d.item.id == item_id) else {
        return Err(ApiFailure::new(
            StatusCode::NOT_FOUND,
            codes::QUICK_ITEM_NOT_FOUND,
            "没有此快办事项 / No such 快办 item",
        ));
    };
    let filing = Arc::new(QuickFiling {
        submission_id: sub.submission_id.to_string(),
        id_number: id.clone(),
        item: def.item.clone(),
        // A BTreeMap of strings: serializing cannot fail, and the same values give the same text.
        values_json: serde_json::to_string(&sub.values).unwrap_or_default(),
    });
    // A retry answers what was filed for its id before anything is checked again: a date
    // checked on the next day could fail where it passed.
    let f = filing.clone();
    if let Some(receipt) = state
        .with_store(move |s, _| s.earlier_submission(&f))
        .await?
    {
        return Ok(Json(receipt).into_response());
    }
    let today = state.today();
    if let Some(why) = def.not_eligible(&id, today) {
        return Err(ApiFailure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            codes::NOT_ELIGIBLE,
            why,
        ));
    }
    let fields = check_submission(&def.item, &sub.values, today);
    if !fields.is_empty() {
        let body = FieldErrors {
            error: codes::FIELDS_INVALID.into(),
            message: "有填写项不符合要求，请按提示修改 / Some fields need changing".into(),
            fields,
        };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response());
    }
    let now = chrono::Utc::now();
    let f = filing.clone();
    let receipt = state
        .with_store(move |s, today| s.file_quick(&f, today, now))
        .await?;
    log::info!(
        "快办 {} filed as {} for {}{}",
        receipt.item_id,
        receipt.case_no,
        id.masked(),
        if receipt.repeated { " (repeated)" } else { "" }
    );
    Ok(Json(receipt).into_response())
}
