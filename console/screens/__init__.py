"""The console's screens: the login screen and the admin forms (modal)."""

from console.screens.admin import (
    AddUserForm,
    AdminForm,
    AdminHost,
    DisableUserForm,
    GiftForm,
    PasswordForm,
    SymbolForm,
)
from console.screens.login import LoginScreen

__all__ = [
    "AddUserForm",
    "AdminForm",
    "AdminHost",
    "DisableUserForm",
    "GiftForm",
    "LoginScreen",
    "PasswordForm",
    "SymbolForm",
]
