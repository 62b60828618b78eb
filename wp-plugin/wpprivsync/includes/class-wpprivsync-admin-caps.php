<?php
/**
 * Who may do what on Tools → Privacy Sync (docs/ADMIN.md): the daemon's capability is for the
 * daemon's REST routes only; people act through WordPress's own privacy capabilities, and the
 * webhook and settings need manage_options. The daemon's service account never opens the page.
 *
 * @package wpprivsync
 */

defined( 'ABSPATH' ) || exit;

/**
 * Capability checks of the admin page.
 */
class Wpprivsync_Admin_Caps {

	const ERASE  = 'erase_others_personal_data';
	const EXPORT = 'export_others_personal_data';
	const ADMIN  = 'manage_options';

	/**
	 * Form action => capability it needs ('' = either privacy capability).
	 */
	const ACTIONS = array(
		'wpprivsync_erase'           => self::ERASE,
		'wpprivsync_remove_comments' => self::ERASE,
		'wpprivsync_task_done'       => self::ERASE,
		'wpprivsync_export'          => self::EXPORT,
		'wpprivsync_retry'           => '',
		'wpprivsync_lookup'          => '',
		'wpprivsync_rotate'          => self::ADMIN,
	);

	/**
	 * Whether a user is the daemon's service account (has the daemon's role).
	 *
	 * @param WP_User|null $user User; the current one when null.
	 * @return bool
	 */
	public static function is_service_account( $user = null ) {
		$user = $user ? $user : wp_get_current_user();
		return $user instanceof WP_User && in_array( Wpprivsync_Plugin::ROLE, (array) $user->roles, true );
	}

	/**
	 * Whether the current user may open the page: one of core's privacy capabilities, and not
	 * the service account (whatever else it was given).
	 *
	 * @return bool
	 */
	public static function can_open() {
		if ( ! is_user_logged_in() || self::is_service_account() ) {
			return false;
		}
		return current_user_can( self::ERASE ) || current_user_can( self::EXPORT );
	}

	/**
	 * Whether the current user may run a form action of the page.
	 *
	 * @param string $action Form action.
	 * @return bool
	 */
	public static function can( $action ) {
		if ( ! array_key_exists( $action, self::ACTIONS ) || ! self::can_open() ) {
			return false;
		}
		$cap = self::ACTIONS[ $action ];
		return '' === $cap || current_user_can( $cap );
	}

	/**
	 * Whether the current user may see and rotate the webhook URL (it is a credential).
	 *
	 * @return bool
	 */
	public static function can_manage() {
		return self::can_open() && current_user_can( self::ADMIN );
	}
}
