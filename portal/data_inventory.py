"""Every model field by class of data (security.md PI1; PIPL art. 28, 51).

One entry per installed model (ours and the libraries' tables), one class per
concrete field. `tests/portal/test_data_inventory.py` fails when a model or field
is added without an entry here, and checks the classes against how the field is
stored: a `SENSITIVE` field is encrypted at rest, a keyed hash is
`PSEUDONYMOUS`, an encrypted field is never `RECORD`, and a field whose name
says bank account or medical data is `SENSITIVE`.

Classes:

- SENSITIVE: 敏感个人信息 (PIPL art. 28) or treated so by project policy: the ID
  number (domain.md); bank accounts and medical records when the relief module
  stores them. Encrypted at rest, found through a keyed hash, masked on every
  screen, API and log line, revealed only with an audit row.
- IDENTIFYING: other direct identifiers of a person: name, phone, user name,
  e-mail, IP address, user agent, member card number, a platform's rider id,
  free contact details. Masked on screens and in logs.
- PERSONAL: other information about an identified person: birth date, gender,
  occupation, region codes, statuses and dates of their membership, coverage,
  consents and requests, free text written by or about them.
- PSEUDONYMOUS: keyed hashes (blind indexes) of personal data.
- SECRET: credentials and keys: password and code hashes, TOTP keys, API key
  hashes, session keys and data.
- RECORD: no personal information on its own: keys, links, counters, technical
  states and times of system rows, reference and configuration data, and the
  public rest-station directory (its contact phones are published on purpose).
"""

from __future__ import annotations

SENSITIVE = "sensitive"
IDENTIFYING = "identifying"
PERSONAL = "personal"
PSEUDONYMOUS = "pseudonymous"
SECRET = "secret"  # noqa: S105 - a class name, not a password
RECORD = "record"

CLASSES = (SENSITIVE, IDENTIFYING, PERSONAL, PSEUDONYMOUS, SECRET, RECORD)

# Fields encrypted at rest other than by EncryptedTextField: the bulk path's
# staging columns hold AES-GCM ciphertext written by portal.crypto.BulkCrypto.
ENCRYPTED_ELSEWHERE = frozenset(
    {
        "services.BatchStagingRow.id_enc",
        "services.BatchStagingRow.phone_enc",
    }
)

# model label -> class -> space-separated field names
INVENTORY: dict[str, dict[str, str]] = {
    # --- Django and library tables -------------------------------------------
    "admin.LogEntry": {
        # object_repr is the object's str(): masked for people (Member.__str__)
        PERSONAL: "object_repr change_message",
        RECORD: "id action_time user content_type object_id action_flag",
    },
    "auth.Permission": {RECORD: "id name content_type codename"},
    "auth.Group": {RECORD: "id name"},
    "contenttypes.ContentType": {RECORD: "id app_label model"},
    "sessions.Session": {
        SECRET: "session_key session_data",
        RECORD: "expire_date",
    },
    "django_celery_beat.SolarSchedule": {RECORD: "id event latitude longitude"},
    "django_celery_beat.IntervalSchedule": {RECORD: "id every period"},
    "django_celery_beat.ClockedSchedule": {RECORD: "id clocked_time"},
    "django_celery_beat.CrontabSchedule": {
        RECORD: "id minute hour day_of_month month_of_year day_of_week timezone",
    },
    "django_celery_beat.PeriodicTasks": {RECORD: "ident last_update"},
    "django_celery_beat.PeriodicTask": {
        # task arguments carry ids only (security.md LG6)
        RECORD: "id name task interval crontab solar clocked args kwargs queue"
        " exchange routing_key headers priority expires expire_seconds one_off"
        " start_time enabled last_run_at total_run_count date_changed description",
    },
    # django-axes: usernames typed with 6+ digits are stored as a keyed hash
    # ("typed:…", members.auth.axes_username); passwords are masked
    # (AXES_SENSITIVE_PARAMETERS).
    "axes.AccessFailureLog": {
        IDENTIFYING: "user_agent ip_address username",
        PERSONAL: "path_info attempt_time locked_out",
        RECORD: "id http_accept",
    },
    "axes.AccessAttempt": {
        IDENTIFYING: "user_agent ip_address username",
        PERSONAL: "path_info attempt_time get_data post_data failures_since_start",
        RECORD: "id http_accept",
    },
    "axes.AccessAttemptExpiration": {RECORD: "access_attempt expires_at"},
    "axes.AccessLog": {
        IDENTIFYING: "user_agent ip_address username",
        PERSONAL: "path_info attempt_time logout_time",
        PSEUDONYMOUS: "session_hash",
        RECORD: "id http_accept",
    },
    # --- members ---------------------------------------------------------------
    "members.User": {
        IDENTIFYING: "username first_name last_name email phone",
        PERSONAL: "last_login date_joined phone_verified_at",
        PSEUDONYMOUS: "phone_hmac",
        SECRET: "password",
        RECORD: "id org is_superuser is_staff is_active session_epoch",
    },
    "members.PlatformApiKey": {
        SECRET: "hashed_secret",
        # prefix: the key's public label, shown in the admin
        RECORD: "id platform name prefix created_at expires_at revoked_at last_used_at",
    },
    "members.PlatformApiUsage": {
        RECORD: "id key endpoint method minute requests errors refused",
    },
    "members.AuditLog": {
        IDENTIFYING: "ip",
        # detail: masked values at most (security.md LG2)
        PERSONAL: "action object_id field reason outcome detail",
        RECORD: "id created_at actor actor_role request_id object_type member",
    },
    "members.Member": {
        SENSITIVE: "id_number",
        IDENTIFYING: "name phone member_no",
        PERSONAL: "birth_date gender occupation employment_category hukou_county"
        " residence_county status joined_on left_at anonymised_at"
        " reminders_opt_out",
        PSEUDONYMOUS: "id_number_hmac phone_hmac",
        RECORD: "id user org created_at updated_at",
    },
    "members.PlatformRider": {
        IDENTIFYING: "platform_rider_id",
        PERSONAL: "joined_platform_on offboarded_on consent_ref consented_at",
        RECORD: "id platform member created_at updated_at",
    },
    "members.MembershipApplication": {
        SENSITIVE: "id_number",
        IDENTIFYING: "name phone",
        PERSONAL: "birth_date gender occupation employment_category hukou_county"
        " residence_county status submitted_at decided_at reject_reason",
        PSEUDONYMOUS: "id_number_hmac phone_hmac",
        RECORD: "id user org decided_by member created_at updated_at",
    },
    "members.ConsentRecord": {
        PERSONAL: "purpose notice_version channel granted_at withdrawn_at",
        RECORD: "id user org",
    },
    "members.MembershipEvent": {
        PERSONAL: "kind from_status to_status note",
        RECORD: "id user member application org actor created_at",
    },
    "members.DataRequest": {
        PERSONAL: "kind status note response processed_at",
        RECORD: "id user member org created_at processed_by",
    },
    "members.CaseAssignment": {
        # reason: free text written by staff about the case (masked, LG2)
        PERSONAL: "reason assigned_at ended_at",
        RECORD: "id staff member assigned_by ended_by",
    },
    "members.Notification": {
        IDENTIFYING: "to_phone",
        # params: the template's values (masked numbers, program names, dates)
        PERSONAL: "template_code params read_at",
        RECORD: "id user member channel category dedupe_key due_at status"
        " attempts claimed_at claim_token gateway_started_at sent_at last_error"
        " created_at",
    },
    "members.UnionOrg": {
        RECORD: "id name level kind parent path region_code credit_code"
        " is_gig_pool is_active",
    },
    "members.Platform": {
        RECORD: "id code name credit_code occupations is_active allowed_networks"
        " created_at",
    },
    "members.OneTimeCode": {
        PERSONAL: "purpose expires_at used_at",
        PSEUDONYMOUS: "phone_hmac",
        SECRET: "code_hash",
        RECORD: "id created_at attempts",
    },
    "members.RegionCode": {RECORD: "id code name valid_from valid_to"},
    "members.StaffTotpDevice": {
        SECRET: "key",
        RECORD: "id user name confirmed throttling_failure_timestamp"
        " throttling_failure_count created_at last_used_at step t0 digits"
        " tolerance drift last_t",
    },
    # --- services ----------------------------------------------------------------
    "services.EnrollmentBatch": {
        RECORD: "id platform program source status idempotency_key request_hash"
        " file_path file_size file_encoding total_rows processed_rows created"
        " already_enrolled rejected failure_reason created_at started_at"
        " finished_at",
    },
    "services.EnrollmentBatchChunk": {
        RECORD: "id batch index start_offset end_offset first_row row_count"
        " status attempts staged_at claimed_at finished_at created"
        " already_enrolled rejected",
    },
    "services.BatchRowError": {
        # message: the rule broken, never the submitted value
        PERSONAL: "message",
        RECORD: "id batch row field code",
    },
    "services.BatchStagingRow": {
        SENSITIVE: "id_enc",
        IDENTIFYING: "name phone_enc rider_id",
        PERSONAL: "birth_date gender occupation city_code joined_on consent_ref"
        " consented_at",
        PSEUDONYMOUS: "id_hmac phone_hmac",
        RECORD: "id batch_id row_no org_id valid err_field err_code err_message"
        " member_id member_new outcome",
    },
    "services.IdempotencyRecord": {
        # the first answer, replayed byte for byte: row outcomes by rider id
        PERSONAL: "response_body",
        RECORD: "id platform key request_hash state response_status"
        " response_headers created_at completed_at",
    },
    "services.Program": {
        RECORD: "id code name description sponsor_org region_prefix"
        " enrollment_mode starts_on ends_on is_active period_rule period_months"
        " renewal_lead_days created_at updated_at",
    },
    "services.BenefitItem": {
        RECORD: "id program name kind amount daily_rate max_days yearly_cap",
    },
    "services.EligibilityRule": {
        RECORD: "id program kind occupations min_value max_value region_prefix"
        " effective_from effective_to note",
    },
    "services.Enrollment": {
        PERSONAL: "period_start period_end status status_reason restored_on source",
        RECORD: "id member program platform created_at updated_at",
    },
    "services.EnrollmentEvent": {
        PERSONAL: "from_status to_status reason source",
        RECORD: "id enrollment run_key actor created_at",
    },
    "services.Station": {
        RECORD: "id name org operator_name address county_code latitude longitude"
        " is_24h has_water has_hot_cold_water has_microwave has_fridge has_ac"
        " has_heating has_toilet_onsite has_toilet_nearby has_first_aid"
        " has_charging has_battery_swap has_reading has_aed has_legal_service"
        " has_meals star_level most_beautiful_year phone access_method"
        " access_note last_verified_at is_active created_at updated_at"
        " week_hours lat_cell",
    },
    "services.StationHours": {RECORD: "id station weekday opens closes"},
    "services.StationHoliday": {
        RECORD: "id station date is_closed opens closes note",
    },
    "services.StationPhoto": {
        # re-encoded without EXIF/GPS (services.uploads)
        RECORD: "id uuid station image caption position created_at",
    },
    "services.ProblemReport": {
        IDENTIFYING: "contact",
        # text and resolution_note are stored masked (portal.masking.mask_text)
        PERSONAL: "text resolution_note",
        RECORD: "id station kind status resolved_at resolved_by created_at",
    },
}


def field_classes() -> dict[str, str]:
    """ "app_label.Model.field" -> class, for every field in the inventory."""
    out: dict[str, str] = {}
    for label, classes in INVENTORY.items():
        for data_class, names in classes.items():
            for name in names.split():
                out[f"{label}.{name}"] = data_class
    return out
