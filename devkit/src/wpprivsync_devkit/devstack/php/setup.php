<?php
/**
 * Second step after install.php: activates plugins, creates the test users and their
 * Application Passwords.
 * Input (JSON on stdin):
 *   plugins:  list of plugin directory names (slugs) to activate, in order
 *   users:    list of {login, email, password, role, fallback_role} to create
 *   app_passwords: list of logins to create an Application Password for
 * Output (JSON): plugins {slug: plugin file}, users {login: {id, role}},
 *   app_passwords {login: password}, warnings [text].
 */

require __DIR__ . '/cli-env.php';

$input = wpprivsync_devstack_input();

require $wpprivsync_devstack_site . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/admin.php';
require __DIR__ . '/plugins.php';

wp_set_current_user( 1 );

$answer = array(
	'plugins'       => array(),
	'users'         => array(),
	'app_passwords' => array(),
	'warnings'      => array(),
);

foreach ( $input['plugins'] as $slug ) {
	$file = wpprivsync_devstack_activate( $slug );
	if ( is_wp_error( $file ) ) {
		fwrite( STDERR, "cannot activate plugin {$slug}: " . $file->get_error_message() . "\n" );
		exit( 4 );
	}
	$answer['plugins'][ $slug ] = $file;
}

foreach ( $input['users'] as $spec ) {
	$role = $spec['role'];
	if ( ! get_role( $role ) ) {
		$answer['warnings'][] = "role {$role} does not exist (is the plugin that creates it active?); user {$spec['login']} gets role {$spec['fallback_role']}";
		$role                 = $spec['fallback_role'];
	}
	$id = wp_insert_user(
		array(
			'user_login' => $spec['login'],
			'user_email' => $spec['email'],
			'user_pass'  => $spec['password'],
			'role'       => $role,
		)
	);
	if ( is_wp_error( $id ) ) {
		fwrite( STDERR, "cannot create user {$spec['login']}: " . $id->get_error_message() . "\n" );
		exit( 5 );
	}
	$answer['users'][ $spec['login'] ] = array(
		'id'   => (int) $id,
		'role' => $role,
	);
}

foreach ( $input['app_passwords'] as $login ) {
	$user = get_user_by( 'login', $login );
	if ( ! $user ) {
		fwrite( STDERR, "no user {$login} for an Application Password\n" );
		exit( 6 );
	}
	$created = WP_Application_Passwords::create_new_application_password( $user->ID, array( 'name' => 'wpprivsync devstack' ) );
	if ( is_wp_error( $created ) ) {
		fwrite( STDERR, "cannot create an Application Password for {$login}: " . $created->get_error_message() . "\n" );
		exit( 7 );
	}
	$answer['app_passwords'][ $login ] = $created[0];
}

wpprivsync_devstack_answer( $answer );
