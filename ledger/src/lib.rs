//! paas-ledger: the ledger (being moved here from `platform/src/ledger`), its migrations and model.
